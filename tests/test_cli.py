"""Tests for the ``latent-upscale`` command (``python -m latent_upscale``) and the README."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from latent_upscale import METHODS, SCHEDULES, cli, discrete_sigmas, img2img_sigmas
from latent_upscale import preview as pv

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROW = re.compile(r"^\s*(\d+)\s+(-|[0-9.]+)\s+(-|[0-9.]+)\s*$")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def parse_schedule_table(text: str) -> tuple[list[float], list[float]]:
    """The two sigma columns of ``schedule``'s table, in order, without the '-' fillers."""
    ours: list[float] = []
    default: list[float] = []
    for line in text.splitlines():
        match = ROW.match(line)
        if match:
            if match[2] != "-":
                ours.append(float(match[2]))
            if match[3] != "-":
                default.append(float(match[3]))
    return ours, default


def expected(name, steps, denoise, full, model="sd1", sampler="Euler"):
    kwargs = {"sdxl": model == "sdxl"}
    if name == "automatic":
        kwargs["sampler"] = sampler
    return img2img_sigmas(name, steps, denoise, full, discrete_sigmas("a1111"), **kwargs)


# --- help, list, exit codes --------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["list"], ["schedule"], ["compare"], ["figures"]])
def test_help_everywhere_documents_exit_codes(capsys, command):
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0
    assert "exit codes" in out
    assert "invalid input" in out


@pytest.mark.parametrize("argv", [[], ["list"]])
def test_list_prints_every_method_and_schedule(capsys, argv):
    code, out, _ = run(capsys, *argv)
    assert code == 0
    names = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    assert set(METHODS) <= names
    assert set(SCHEDULES) <= names
    for info in (*METHODS.values(), *SCHEDULES.values()):
        assert str(info.label) in out


def test_unknown_subcommand_and_option_are_usage_errors(capsys):
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys, "schedule", "--bogus")[0] == 2


def test_module_entry_point_runs_in_a_subprocess(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "latent_upscale", "schedule"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "30 steps run" in result.stdout
    assert "13 steps run" in result.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "latent_upscale", "schedule", "--scheduler", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert "python -m latent_upscale" in bad.stderr


# --- schedule ----------------------------------------------------------------------------------


def test_schedule_default_is_30_vs_13_steps(capsys):
    code, out, _ = run(capsys, "schedule", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["settings"]["scheduler"] == "simple"
    assert data["settings"]["steps"] == 30
    assert data["settings"]["denoise"] == 0.4
    assert data["settings"]["full_steps"] is True
    assert data["latent_upscale"]["steps_run"] == 30
    assert len(data["latent_upscale"]["sigmas"]) == 31
    assert data["webui_default"]["steps_run"] == 13
    assert len(data["webui_default"]["sigmas"]) == 14
    assert data["latent_upscale"]["sigmas"][-1] == 0.0


def test_schedule_without_full_steps_runs_steps_times_denoise(capsys):
    code, out, _ = run(capsys, "schedule", "--no-full-steps", "--json")
    assert code == 0
    assert json.loads(out)["latent_upscale"]["steps_run"] == 13


@pytest.mark.parametrize(
    ("argv", "name", "steps", "denoise", "full", "model"),
    [
        ([], "simple", 30, 0.4, True, "sd1"),
        (["-s", "karras", "--steps", "20", "--denoise", "0.55"], "karras", 20, 0.55, True, "sd1"),
        (
            ["-s", "Exponential", "--no-full-steps", "--denoise", "0.75"],
            "exponential",
            30,
            0.75,
            False,
            "sd1",
        ),
        (
            ["-s", "align_your_steps", "--model", "sdxl", "--steps", "12"],
            "align_your_steps",
            12,
            0.4,
            True,
            "sdxl",
        ),
        (["-s", "automatic", "--denoise", "1"], "automatic", 30, 1.0, True, "sd1"),
        (
            ["-s", "ddim_uniform", "--steps", "7", "--denoise", "0.3"],
            "ddim_uniform",
            7,
            0.3,
            True,
            "sd1",
        ),
    ],
)
def test_schedule_table_matches_img2img_sigmas(capsys, argv, name, steps, denoise, full, model):
    code, out, _ = run(capsys, "schedule", *argv)
    assert code == 0
    ours, default = parse_schedule_table(out)
    want = expected(name, steps, denoise, full, model).tolist()
    want_default = expected("automatic", steps, denoise, False, model).tolist()
    assert ours == pytest.approx(want, abs=1e-6, rel=0)
    assert default == pytest.approx(want_default, abs=1e-6, rel=0)
    assert f"{len(want) - 1} steps run" in out


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_json_is_exactly_img2img_sigmas(capsys, name):
    code, out, _ = run(capsys, "schedule", "--scheduler", name, "--steps", "10", "--json")
    assert code == 0
    got = torch.tensor(json.loads(out)["latent_upscale"]["sigmas"], dtype=torch.float64)
    want = expected(name, 10, 0.4, True).double()
    assert torch.equal(got, want)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--scheduler", "nope"], "karras"),
        (["--steps", "0"], ">= 1"),
        (["--denoise", "1.5"], "(0, 1]"),
        (["--denoise", "x"], "(0, 1]"),
        (["--model", "flux"], "sd1"),
    ],
)
def test_schedule_invalid_input_exits_2(capsys, argv, message):
    code, _, err = run(capsys, "schedule", *argv)
    assert code == 2
    assert message in err


def test_schedule_plot_writes_a_png(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "schedule.png"
    code, out, _ = run(capsys, "schedule", "--plot", str(target))
    assert code == 0
    assert target.read_bytes().startswith(PNG_SIGNATURE)
    assert [p.name for p in tmp_path.iterdir()] == ["schedule.png"]  # no temp file left
    assert "wrote" in out


def test_plot_without_matplotlib_fails_cleanly(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes "import matplotlib" fail
    target = tmp_path / "schedule.png"
    code, out, err = run(capsys, "schedule", "--plot", str(target))
    assert code == 1
    assert "pip install 'latent-upscale[plot]'" in err
    assert not target.exists()
    assert out == ""
    code, _, err = run(capsys, "compare", "--out", str(tmp_path / "grid.png"))
    assert code == 1
    assert "latent-upscale[plot]" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", ["missing_dir/out.png", "out.jpg"])
def test_plot_target_is_validated_before_anything_runs(capsys, tmp_path, bad):
    code, out, _err = run(capsys, "schedule", "--plot", str(tmp_path / bad))
    assert code == 2
    assert out == ""
    assert list(tmp_path.iterdir()) == []


# --- compare -----------------------------------------------------------------------------------


def compare_json(capsys, *argv: str) -> dict:
    code, out, err = run(capsys, "compare", *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_compare_synthetic_measures_every_method(capsys):
    data = compare_json(capsys)
    assert data["input_size"] == [32, 32]
    assert data["output_size"] == [48, 48]
    assert set(data["metrics"]) | set(data["skipped"]) == set(METHODS)
    for values in data["metrics"].values():
        assert set(values) == set(pv.METRIC_HELP)
    assert data["metrics"]["bilinear"]["overshoot"] == 0.0


def test_compare_table_lists_methods_and_metric_names(capsys):
    code, out, _ = run(capsys, "compare", "--methods", "bilinear,nearest-exact", "--scale", "2")
    assert code == 0
    assert "32x32 -> 64x64" in out
    rows = [
        line.split()[0]
        for line in out.splitlines()
        if line.split()[:1] in (["bilinear"], ["nearest-exact"])
    ]
    assert rows == ["bilinear", "nearest-exact"]
    for name in pv.METRIC_HELP:
        assert name in out


def test_compare_integer_scale_nearest_exact_round_trips(capsys):
    data = compare_json(capsys, "--methods", "nearest-exact,bilinear", "--scale", "2")
    assert data["metrics"]["nearest-exact"]["roundtrip"] < 1e-6
    assert data["metrics"]["bilinear"]["roundtrip"] > 1e-3


def test_compare_size_option(capsys):
    data = compare_json(capsys, "--methods", "area", "--size", "20x40")
    assert data["output_size"] == [20, 40]


def test_compare_writes_png_grid(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "grid.png"
    code, _, _ = run(capsys, "compare", "--methods", "bilinear,bislerp", "--out", str(target))
    assert code == 0
    assert target.read_bytes().startswith(PNG_SIGNATURE)


def _save_inputs(tmp_path: Path, latent: torch.Tensor) -> dict[str, Path]:
    safetensors = pytest.importorskip("safetensors.torch")
    paths = {
        "safetensors": tmp_path / "a.safetensors",
        "latent": tmp_path / "b.latent",
        "pt": tmp_path / "c.pt",
        "pt-dict": tmp_path / "d.pt",
    }
    safetensors.save_file({"x": latent}, str(paths["safetensors"]))
    safetensors.save_file(
        {"latent_tensor": latent, "latent_format_version_0": torch.tensor([])},
        str(paths["latent"]),
    )
    torch.save(latent, paths["pt"])
    torch.save({"samples": latent}, paths["pt-dict"])
    return paths


def test_compare_reads_every_file_kind_identically(capsys, tmp_path):
    latent = torch.randn(2, 4, 10, 12, generator=torch.Generator().manual_seed(5))
    results = {}
    for kind, path in _save_inputs(tmp_path, latent).items():
        data = compare_json(capsys, str(path), "--methods", "bilinear,area")
        assert data["input_size"] == [10, 12], kind
        assert data["output_size"] == [15, 18], kind
        assert "first of a batch of 2" in data["source"], kind
        results[kind] = data["metrics"]
    assert all(metrics == results["pt"] for metrics in results.values())


def test_compare_flat_latent_gives_valid_json(capsys, tmp_path):
    path = tmp_path / "flat.pt"
    torch.save(torch.ones(1, 4, 6, 6), path)
    code, out, _ = run(capsys, "compare", str(path), "--methods", "bilinear", "--json")
    assert code == 0
    metrics = json.loads(out, parse_constant=pytest.fail)["metrics"]["bilinear"]
    assert metrics["detail"] is None  # undefined: the input has no detail to keep
    assert metrics["overshoot"] == 0.0


def test_compare_sixteen_channel_latent(capsys, tmp_path):
    path = tmp_path / "flux.pt"
    torch.save(torch.randn(1, 16, 8, 8), path)
    data = compare_json(capsys, str(path), "--methods", "bilinear")
    assert data["channels"] == 16


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.safetensors", "not found"),
        (lambda d: _torch_file(d / "flat.pt", torch.zeros(4, 8, 8)), "4-D"),
        (lambda d: _text_file(d / "notes.txt"), "unsupported file type"),
    ],
)
def test_compare_bad_input_exits_2_and_writes_nothing(capsys, tmp_path, make, message):
    inputs = tmp_path / "in"
    inputs.mkdir()
    path = make(inputs)
    target = tmp_path / "grid.png"
    code, _out, err = run(capsys, "compare", str(path), "--out", str(target))
    assert code == 2
    assert message in err
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in"]


def test_compare_unknown_method_exits_2_and_lists_methods(capsys, tmp_path):
    target = tmp_path / "grid.png"
    code, _, err = run(capsys, "compare", "--methods", "bilinear,sharpest", "--out", str(target))
    assert code == 2
    assert "sharpest" in err
    assert "nearest-exact" in err
    assert not target.exists()


def test_compare_scale_and_size_are_exclusive(capsys):
    assert run(capsys, "compare", "--scale", "2", "--size", "4x4")[0] == 2


def _torch_file(path: Path, tensor: torch.Tensor) -> Path:
    torch.save(tensor, path)
    return path


def _text_file(path: Path) -> Path:
    path.write_text("hello")
    return path


# --- figures -----------------------------------------------------------------------------------


def test_figures_are_small_deterministic_pngs(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    code, _out, _ = run(capsys, "figures", "--out", str(tmp_path / "assets"))
    assert code == 0
    files = sorted((tmp_path / "assets").iterdir())
    assert sorted(p.name for p in files) == sorted(cli.FIGURE_FILES.values())
    for path in files:
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        assert len(data) < 150 * 1024, (path.name, len(data))
    again = cli.build_figures()
    for path in files:
        assert again[path.name] == path.read_bytes(), path.name


def test_figures_refuses_a_file_as_folder(capsys, tmp_path):
    target = tmp_path / "assets"
    target.write_text("not a folder")
    code, _, err = run(capsys, "figures", "--out", str(target))
    assert code == 2
    assert "not a folder" in err
    assert target.read_text() == "not a folder"


def test_committed_figures_exist_and_are_small():
    for name in cli.FIGURE_FILES.values():
        path = ROOT / "assets" / name
        assert path.is_file(), f"run: python -m latent_upscale figures --out assets ({name})"
        assert path.read_bytes().startswith(PNG_SIGNATURE)
        assert path.stat().st_size < 150 * 1024


# --- README ------------------------------------------------------------------------------------


def _readme() -> str:
    return README.read_text(encoding="utf-8")


def _marked_block(marker: str) -> list[str]:
    """Lines of the fenced code block right after ``<!-- marker -->``."""
    match = re.search(rf"<!-- {marker} -->\s*\n```[a-z]*\n(.*?)\n```", _readme(), re.S)
    assert match, f"README has no fenced block after <!-- {marker} -->"
    return [line for line in match[1].splitlines() if line.strip()]


def test_readme_mentions_every_method_and_schedule():
    text = _readme()
    for name in (*METHODS, *SCHEDULES):
        assert f"`{name}`" in text, name


def test_readme_tables_use_the_registry_labels():
    text = _readme()
    for name, info in (*METHODS.items(), *SCHEDULES.items()):
        assert re.search(rf"\| `{re.escape(name)}` \| {re.escape(str(info.label))} \|", text), name


def test_readme_metrics_table_is_current():
    lines = _marked_block("compare-table")
    assert lines[0].split() == ["method", *pv.METRIC_HELP]
    latent = pv.synthetic_latent()
    comparison = cli.compare_methods(latent, (48, 48), list(METHODS))
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in lines[1:]}
    assert list(rows) == list(METHODS)
    for method, values in rows.items():
        metrics = comparison.metrics[method]
        want = [getattr(metrics, name) for name in pv.METRIC_HELP]
        assert values == pytest.approx(want, abs=6e-5), (
            f"{method}: update the README table from `python -m latent_upscale compare`"
        )


def test_readme_shows_every_figure():
    text = _readme()
    for name in cli.FIGURE_FILES.values():
        assert f"assets/{name}" in text, name


def test_readme_main_command_parses_with_our_cli():
    lines = _marked_block("main-command")
    assert len(lines) == 1, lines
    parts = [part.strip() for part in lines[0].split("&&")]
    assert parts[0].startswith("python3 -m venv .venv")
    assert any("pip install torch==" in part for part in parts)
    assert any("pip install -e '.[plot]'" in part for part in parts)
    runs = [shlex.split(part) for part in parts if "-m latent_upscale" in part]
    assert len(runs) == 1
    argv = runs[0][runs[0].index("latent_upscale") + 1 :]
    assert argv[0] == "schedule"
    args = cli.build_parser().parse_args(argv)
    assert args.func is cli.cmd_schedule


def test_readme_test_command():
    lines = _marked_block("test-command")
    assert len(lines) == 1, lines
    assert "pip install -e '.[test]'" in lines[0]
    assert lines[0].rstrip().endswith("pytest")


def test_readme_documents_webui_surface_and_exit_codes():
    text = _readme()
    for needle in (
        "[Latent Upscale] Method",
        "[Latent Upscale] Scheduler",
        "[Latent Upscale] Full steps",
        "Latent upscale method",
        "Latent upscale scheduler",
        "Latent upscale full steps",
        "/sdapi/v1/img2img",
        '"script_name": "Latent Upscale"',
        "Just resize (latent upscale)",
        "## Supported WebUIs",
        "## Performance",
        "Latent (bislerp)",
        "Latent (lanczos)",
        "Latent (area)",
    ):
        assert needle in text, needle
    for code in ("`0`", "`1`", "`2`"):
        assert code in text
