"""Tests for the ``latent-upscale`` command (``python -m latent_upscale``) and the README.

What ``schedule`` prints is checked against the WebUI's own outputs (reference vectors in
tests/reference, read through tests/golden.py) and against properties written out here (the
WebUI's step rule, the slider's step count with full steps, descending sigmas), never against
the package function the command calls.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from latent_upscale import METHODS, SCHEDULES
from latent_upscale.command import cli, plotting
from latent_upscale.command import compare as cmp
from latent_upscale.command import preview as pv
from latent_upscale.command import schedule as sch
from latent_upscale.schedules import KDIFFUSION_SAMPLERS
from latent_upscale.steps import MAX_SCHEDULE_LENGTH
from tests import golden

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROW = re.compile(r"^\s*(\d+)\s+(-|[0-9.]+)\s+(-|[0-9.]+)\s*$")
RTOL = 1e-5  # float32 schedules computed in another order than the WebUI's


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def schedule_json(capsys, *argv: str) -> dict:
    code, out, err = run(capsys, "schedule", *argv, "--json")
    assert code == 0, err
    return json.loads(out)


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


def assert_sigmas(got: list[float], want: list[float]) -> None:
    assert len(got) == len(want), (len(got), len(want))
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        assert math.isclose(a, b, rel_tol=RTOL, abs_tol=1e-12), (i, a, b)


def webui_t_enc(steps: int, denoise: float) -> int:
    """The WebUI's img2img rule without full steps: ``t_enc + 1`` steps of a ``steps`` schedule."""
    return int(min(denoise, 0.999) * steps)


# --- help, list, exit codes --------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["list"], ["schedule"], ["compare"], ["figures"]])
def test_help_everywhere_documents_exit_codes(capsys, command):
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0
    assert "exit codes" in out
    assert "invalid input" in out
    assert "141" in out


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


def _python(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kwargs,
    )


def test_module_entry_point_runs_in_a_subprocess():
    result = _python("-m", "latent_upscale", "schedule")
    assert result.returncode == 0, result.stderr
    assert "30 steps run" in result.stdout
    assert "13 steps run" in result.stdout
    bad = _python("-m", "latent_upscale", "schedule", "--scheduler", "nope")
    assert bad.returncode == 2
    assert "python -m latent_upscale" in bad.stderr


def test_script_entry_point_names_the_command_module():
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(r'^latent-upscale = "([\w.]+):(\w+)"$', text, re.M)
    assert match, "pyproject.toml has no latent-upscale script"
    module = __import__(match[1], fromlist=[match[2]])
    assert getattr(module, match[2]) is cli.main
    assert match[1].startswith("latent_upscale.command")
    assert '"latent_upscale.command"' in text


def test_start_up_imports_nothing_heavy():
    code = (
        "import sys, io, contextlib\n"
        "from latent_upscale.command.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['list']); main(['--help'])\n"
        "heavy = ('matplotlib', 'scipy', 'safetensors', 'PIL')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    result = _python("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "argv",
    [
        ["list"],
        ["schedule", "--steps", "3000", "--denoise", "1", "--no-full-steps"],
        ["compare", "--methods", "bilinear"],
    ],
)
def test_closed_output_pipe_ends_quietly(argv):
    process = subprocess.Popen(
        [sys.executable, "-m", "latent_upscale", *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # the reader goes away before the command writes
    _, err = process.communicate(timeout=120)
    assert process.returncode in (0, 141), err
    assert err == b"", err.decode()


def test_pipe_into_head_ends_quietly():
    command = (
        f"set -o pipefail; {shlex.quote(sys.executable)} -m latent_upscale schedule "
        "--steps 5000 --denoise 1 --no-full-steps | head -2"
    )
    result = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode in (0, 141), result.stderr
    assert result.stderr == ""
    assert len(result.stdout.splitlines()) == 2


# --- schedule: reference vectors ---------------------------------------------------------------


def _img2img_cases() -> list:
    return [
        pytest.param(c, id=c["id"])
        for c in golden.cases("sigmas.json", implementation="a1111_img2img")
    ]


@pytest.mark.parametrize("case", _img2img_cases())
def test_schedule_matches_the_webui_img2img_reference(capsys, case):
    """Each WebUI img2img run (schedule, denoise, with and without its exact-steps option) is
    what the command prints for the same settings; for DDIM with full steps the command runs
    the slider's count, the end of the WebUI's own longer run."""
    params = case["params"]
    flag = "--full-steps" if params["img2img_fix_steps"] else "--no-full-steps"
    argv = ["-s", case["schedule"], "--steps", str(case["steps"]), "--denoise"]
    data = schedule_json(capsys, *argv, str(params["denoise"]), flag, "--sampler", "Euler")
    ours = data["latent_upscale"]
    want = golden.values(case["output"])
    assert ours["total_steps"] == case["total_steps"]
    assert ours["t_enc"] == case["t_enc"]
    assert ours["start"] == case["start_index"]
    if case["schedule"] == "DDIM" and params["img2img_fix_steps"]:
        want = want[-(case["steps"] + 1) :]
    assert_sigmas(ours["sigmas"], want)
    assert ours["steps_run"] == len(want) - 1


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=c["id"])
        for c in golden.cases("sigmas.json", implementation="a1111_img2img", schedule="Automatic")
        if not c["params"]["img2img_fix_steps"]
    ],
)
def test_webui_default_column_is_the_webui_reference(capsys, case):
    denoise = case["params"]["denoise"]
    for scheduler in ("simple", "karras"):  # the default column does not depend on it
        data = schedule_json(capsys, "-s", scheduler, "--denoise", str(denoise))
        assert_sigmas(data["webui_default"]["sigmas"], golden.values(case["output"]))
    code, out, _ = run(capsys, "schedule", "--denoise", str(denoise))
    assert code == 0
    _, default = parse_schedule_table(out)
    assert default == pytest.approx(golden.values(case["output"]), abs=1e-6, rel=0)


FULL_SCHEDULE_NAMES = {  # reference group -> schedule name in the command
    "automatic": "automatic",
    "uniform": "uniform",
    "karras": "karras",
    "exponential": "exponential",
    "polyexponential": "polyexponential",
    "sgm_uniform": "sgm_uniform",
    "kl_optimal": "kl_optimal",
    "align_your_steps": "align_your_steps",
    "simple": "simple",
    "normal": "normal",
    "beta": "beta",
}


def _full_cases() -> list:
    return [
        pytest.param(c, id=c["id"])
        for c in golden.cases("sigmas.json", implementation="a1111")
        if c["schedule"] in FULL_SCHEDULE_NAMES and c["steps"] in (3, 20, 50)
    ]


@pytest.mark.parametrize("case", _full_cases())
@pytest.mark.parametrize("denoise", [1.0, 0.55, 0.1])
def test_no_full_steps_runs_the_tail_of_the_webui_schedule(capsys, case, denoise):
    """Without full steps the run is the last ``t_enc + 2`` sigmas of the WebUI's schedule for
    the slider's steps (both columns), with ``t_enc`` from the WebUI's rule."""
    steps = case["steps"]
    name = FULL_SCHEDULE_NAMES[case["schedule"]]
    data = schedule_json(
        capsys, "-s", name, "--steps", str(steps), "--denoise", str(denoise), "--no-full-steps"
    )
    want = golden.values(case["output"])[-(webui_t_enc(steps, denoise) + 2) :]
    assert_sigmas(data["latent_upscale"]["sigmas"], want)
    if name == "automatic":
        assert_sigmas(data["webui_default"]["sigmas"], want)


@pytest.mark.parametrize("steps", [3, 20, 50])
@pytest.mark.parametrize(
    ("sampler", "group"),
    [("DPM2", "automatic[DPM2]"), ("dpm++ 2m", "automatic[DPM++ 2M]")],
)
def test_sampler_reaches_the_plan(capsys, steps, sampler, group):
    """--sampler picks the WebUI's Automatic schedule and its discard of the next-to-last sigma
    (DPM2 runs Karras without it), as the WebUI's reference outputs show."""
    case = golden.cases("sigmas.json", implementation="a1111", schedule=group, steps=steps)[0]
    want = golden.values(case["output"])
    argv = ["--steps", str(steps), "--denoise", "1", "--no-full-steps", "--sampler", sampler]
    data = schedule_json(capsys, "-s", "automatic", *argv)
    assert_sigmas(data["latent_upscale"]["sigmas"], want)
    assert_sigmas(data["webui_default"]["sigmas"], want)
    karras = schedule_json(capsys, "-s", "Karras", *argv)
    assert_sigmas(karras["latent_upscale"]["sigmas"], want)
    assert data["settings"]["sampler"] == case["params"]["sampler"]


# --- schedule: properties ----------------------------------------------------------------------

PROPERTY_SETTINGS = [(1, 0.5), (7, 0.3), (30, 0.05), (30, 0.2), (30, 0.4), (30, 1.0), (45, 0.75)]


@pytest.mark.parametrize("name", list(SCHEDULES))
@pytest.mark.parametrize(("steps", "denoise"), PROPERTY_SETTINGS)
def test_full_steps_run_the_slider_count_on_a_descending_schedule(capsys, name, steps, denoise):
    data = schedule_json(capsys, "-s", name, "--steps", str(steps), "--denoise", str(denoise))
    ours = data["latent_upscale"]
    sigmas = ours["sigmas"]
    assert ours["steps_run"] == steps
    assert len(sigmas) == steps + 1
    assert all(a > b for a, b in itertools.pairwise(sigmas)), sigmas
    assert ours["total_steps"] == int(steps / min(denoise, 0.999))  # the WebUI's exact-steps rule
    # the run ends where the schedule ends: at full denoise the same schedule ends the same way
    whole = schedule_json(capsys, "-s", name, "--steps", str(ours["total_steps"]), "--denoise", "1")
    assert sigmas[-1] == pytest.approx(whole["latent_upscale"]["sigmas"][-1], rel=RTOL)


@pytest.mark.parametrize("steps", [1, 2, 13, 30, 150])
@pytest.mark.parametrize("denoise", [0.0, 0.01, 0.2, 0.4, 0.5, 0.999, 1.0])
def test_webui_default_column_follows_the_webui_rule(capsys, steps, denoise):
    argv = ["--steps", str(steps), "--denoise", str(denoise), "--no-full-steps"]
    default = schedule_json(capsys, *argv)["webui_default"]
    t_enc = webui_t_enc(steps, denoise)
    assert default["total_steps"] == steps
    assert default["t_enc"] == t_enc
    assert default["steps_run"] == t_enc + 1
    assert default["full_steps"] is False
    assert len(default["sigmas"]) == t_enc + 2
    assert default["sigmas"][-1] == 0.0


@pytest.mark.parametrize(
    ("name", "steps", "denoise"), [("ddim_uniform", 30, 0.2), ("beta_comfyui", 30, 0.05)]
)
def test_reported_cases_run_the_slider_count(capsys, name, steps, denoise):
    code, out, err = run(
        capsys, "schedule", "-s", name, "--steps", str(steps), "--denoise", str(denoise)
    )
    assert code == 0, err
    assert f"latent-upscale: {name}, full steps: {steps} steps run" in out
    ours, _ = parse_schedule_table(out)
    assert len(ours) == steps + 1


def test_denoise_zero_falls_back_to_the_webui_rule(capsys):
    data = schedule_json(capsys, "--denoise", "0")
    assert data["latent_upscale"]["full_steps"] is False
    assert data["latent_upscale"]["steps_run"] == 1
    _, out, _ = run(capsys, "schedule", "--denoise", "0")
    assert "full steps do not apply at denoise 0" in out


def test_schedule_text_and_json_agree(capsys):
    data = schedule_json(capsys, "-s", "karras", "--steps", "20", "--denoise", "0.55")
    code, out, _ = run(capsys, "schedule", "-s", "karras", "--steps", "20", "--denoise", "0.55")
    assert code == 0
    ours, default = parse_schedule_table(out)
    assert ours == pytest.approx(data["latent_upscale"]["sigmas"], abs=1e-6, rel=0)
    assert default == pytest.approx(data["webui_default"]["sigmas"], abs=1e-6, rel=0)
    assert f"{data['latent_upscale']['steps_run']} steps run" in out


# --- schedule: names and input checks ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("AYS", "align_your_steps"),
        ("SGMUniform", "sgm_uniform"),
        ("Align Your Steps", "align_your_steps"),
        ("KARRAS", "karras"),
        ("beta_comfyui", "beta_comfyui"),
    ],
)
def test_schedule_names_labels_and_aliases(capsys, value, name):
    assert schedule_json(capsys, "-s", value)["settings"]["scheduler"] == name


@pytest.mark.parametrize(("value", "name"), [("euler", "Euler"), ("dpm++ 2m", "DPM++ 2M")])
def test_sampler_names_in_any_case(capsys, value, name):
    data = schedule_json(capsys, "--sampler", value)
    assert data["settings"]["sampler"] == name
    assert name in KDIFFUSION_SAMPLERS


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--scheduler", "nope"], "karras"),
        (["--sampler", "eulr"], "DPM++ 2M"),
        (["--sampler", "DDIM"], "Euler a"),
        (["--steps", "0"], "[1, 10,000]"),
        (["--steps", str(MAX_SCHEDULE_LENGTH + 1)], "[1, 10,000]"),
        (["--denoise", "1.5"], "[0, 1]"),
        (["--denoise", "-0.1"], "[0, 1]"),
        (["--denoise", "nan"], "[0, 1]"),
        (["--denoise", "x"], "[0, 1]"),
        (["--model", "flux"], "sd1"),
    ],
)
def test_schedule_invalid_input_exits_2(capsys, argv, message):
    code, out, err = run(capsys, "schedule", *argv)
    assert code == 2
    assert message in err
    assert out == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["--denoise", "1e-7"],
        ["--steps", "10000", "--denoise", "0.5"],
        ["--steps", "10000", "--denoise", "1"],
    ],
)
def test_schedule_over_the_length_limit_exits_2_before_computing(capsys, monkeypatch, argv):
    monkeypatch.setattr(sch, "plan_img2img", lambda *a, **k: pytest.fail("computed"))
    code, out, err = run(capsys, "schedule", *argv)
    assert code == 2
    assert f"{MAX_SCHEDULE_LENGTH}" in err.replace(",", "")
    assert out == ""


def test_longest_accepted_schedule(capsys):
    steps = int(MAX_SCHEDULE_LENGTH * 0.999)  # full steps at denoise 1: just within the limit
    data = schedule_json(capsys, "--steps", str(steps), "--denoise", "1", "-s", "beta_comfyui")
    assert data["latent_upscale"]["total_steps"] <= MAX_SCHEDULE_LENGTH


# --- plots and output files --------------------------------------------------------------------


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
    assert ".venv/bin/pip install -e '.[plot]'" in err
    assert "latent-upscale[plot]" not in err  # not a published package
    assert not target.exists()
    assert out == ""
    code, _, err = run(capsys, "compare", "--out", str(tmp_path / "grid.png"))
    assert code == 1
    assert ".venv/bin/pip install -e '.[plot]'" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", ["missing_dir/out.png", "out.jpg"])
def test_plot_target_is_validated_before_anything_runs(capsys, tmp_path, bad):
    code, out, _err = run(capsys, "schedule", "--plot", str(tmp_path / bad))
    assert code == 2
    assert out == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize(
    "argv",
    [
        ["schedule", "--plot", "/proc/latent-upscale-test.png"],
        ["compare", "--methods", "bilinear", "--out", "/proc/latent-upscale-test.png"],
        ["figures", "--out", "/proc/latent-upscale-test"],
    ],
)
def test_unwritable_output_is_a_runtime_error_naming_the_path(capsys, argv):
    pytest.importorskip("matplotlib")
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert "cannot be written" in err
    assert "/proc/latent-upscale-test" in err
    assert ".tmp" not in err
    assert "Traceback" not in err


def test_failed_write_names_the_target_and_leaves_nothing(tmp_path, monkeypatch):
    def refuse(src, dst):
        raise PermissionError(13, "Permission denied", str(src))

    monkeypatch.setattr(cli.os, "replace", refuse)
    target = tmp_path / "out.png"
    with pytest.raises(cli.OutputError) as info:
        cli.write_atomic(target, b"data")
    assert str(info.value) == f"{target}: cannot be written (Permission denied)"
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


def test_compare_sixteen_channel_latent_says_what_the_grid_shows(capsys, tmp_path):
    path = tmp_path / "flux.pt"
    torch.save(torch.randn(1, 16, 8, 8), path)
    data = compare_json(capsys, str(path), "--methods", "bilinear")
    assert data["channels"] == 16
    assert data["grid_channels"] == 4
    code, out, _ = run(capsys, "compare", str(path), "--methods", "bilinear")
    assert code == 0
    assert "channels 0-3 of 16" in out
    assert "all 16 channels" in out
    four = tmp_path / "sd.pt"
    torch.save(torch.randn(1, 4, 8, 8), four)
    code, out, _ = run(capsys, "compare", str(four), "--methods", "bilinear")
    assert "note:" not in out


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


@pytest.mark.parametrize("value", ["nearest_exact", "Nearest (exact)", "NEAREST-EXACT"])
def test_compare_method_names_labels_and_aliases(capsys, value):
    data = compare_json(capsys, "--methods", f"{value},bilinear")
    assert list(data["metrics"]) == ["nearest-exact", "bilinear"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--size", "20000x20000"], "1024"),
        (["--size", "1025x4"], "1024"),
        (["--scale", "16"], "(0, 8]"),
        (["--scale", "0"], "(0, 8]"),
        (["--size", "1024x1024"], "524,288"),
        (["--size", "600x600"], "524,288"),
        (["--seed", "-1"], "seed"),
    ],
)
def test_compare_over_the_limits_exits_2_before_resizing(capsys, monkeypatch, argv, message):
    monkeypatch.setattr(cmp, "upscale", lambda *a, **k: pytest.fail("resized"))
    code, out, err = run(capsys, "compare", *argv)
    assert code == 2
    assert message in err
    assert out == ""


def test_compare_refuses_a_large_input_latent(capsys, tmp_path, monkeypatch):
    path = tmp_path / "big.pt"
    torch.save(torch.zeros(1, 16, 200, 200), path)  # 640,000 values
    monkeypatch.setattr(cmp, "upscale", lambda *a, **k: pytest.fail("resized"))
    code, _, err = run(capsys, "compare", str(path), "--scale", "0.5")
    assert code == 2
    assert "640,000" in err
    assert str(path) in err


def test_compare_refuses_a_large_file_before_reading_it(capsys, tmp_path, monkeypatch):
    path = tmp_path / "batch.pt"
    torch.save(torch.zeros(4, 4, 8, 8), path)
    monkeypatch.setattr(cmp, "MAX_FILE_BYTES", 1000)
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("read"))
    code, _, err = run(capsys, "compare", str(path))
    assert code == 2
    assert "1,000 bytes" in err


def test_compare_at_the_limit_is_accepted(capsys):
    data = compare_json(capsys, "--methods", "nearest-exact", "--size", "512x256")
    assert data["output_size"] == [512, 256]
    assert cmp.MAX_VALUES == 4 * 512 * 256


# --- the picture grid --------------------------------------------------------------------------


def _grid_figure(monkeypatch, latent: torch.Tensor, size: tuple[int, int], methods) -> object:
    """The matplotlib figure compare_png draws (captured before it is encoded)."""
    pytest.importorskip("matplotlib")
    captured = {}

    def capture(fig, **_kwargs):
        captured["fig"] = fig
        return b""

    monkeypatch.setattr(plotting, "_png", capture)
    outputs = {m: cmp.upscale(latent, size, m) for m in methods}
    plotting.compare_png(latent, outputs, title="a title")
    return captured["fig"]


def _text_boxes(fig) -> list:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    return [(t.get_text(), t.get_window_extent(renderer)) for t in fig.texts if t.get_text()]


@pytest.mark.parametrize("size", [(1, 1), (3, 3), (6, 2), (40, 1), (1, 40), (48, 48), (300, 300)])
def test_grid_labels_never_overlap_and_stay_inside(monkeypatch, size):
    fig = _grid_figure(monkeypatch, pv.synthetic_latent(), size, list(METHODS))
    boxes = _text_boxes(fig)
    width, height = fig.bbox.width, fig.bbox.height
    for i, (text, box) in enumerate(boxes):
        assert box.x0 >= -0.5, (text, box)
        assert box.x1 <= width + 0.5, (text, box, width)
        assert box.y0 >= -0.5, (text, box)
        assert box.y1 <= height + 0.5, (text, box, height)
        for other, other_box in boxes[i + 1 :]:
            assert not box.overlaps(other_box), (text, other)
    labels = {text.replace("\n", "") for text, _ in boxes}
    for method in METHODS:
        assert method in labels or method.replace("-", "") in labels, method


def test_grid_of_a_sixteen_channel_latent_says_so(monkeypatch):
    latent = torch.randn(1, 16, 8, 8, generator=torch.Generator().manual_seed(1))
    fig = _grid_figure(monkeypatch, latent, (12, 12), ["bilinear"])
    text = " ".join(t for t, _ in _text_boxes(fig)).replace("\n", " ")
    assert "channels 0-3 of 16" in text
    assert "channel 4" not in text


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
    comparison = cmp.compare_methods(latent, (48, 48), list(METHODS))
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


def test_readme_explains_which_torch_and_how_to_get_a_cpu_build():
    text = _readme()
    assert "--index-url https://download.pytorch.org/whl/cpu" in text
    assert "CUDA build" in text
    hosts = set(re.findall(r"https?://([\w.-]+)", text.split("## Development", 1)[1]))
    assert hosts <= {"download.pytorch.org"}, hosts


def test_readme_command_limits_and_exit_codes_match_the_code():
    text = _readme()
    section = text.split("**Limits.**", 1)[1].split("## Supported WebUIs", 1)[0]
    assert f"| {MAX_SCHEDULE_LENGTH:,} steps |" in section
    assert f"| {cmp.MAX_VALUES:,} (" in section
    assert f"| {cmp.MAX_SIDE} latent pixels |" in section
    assert f"| {cli.MAX_SCALE:g} |" in section
    assert f"| {cmp.MAX_FILE_BYTES // 2**20} MiB |" in section
    assert f"| `{cli.EXIT_PIPE}` |" in section
    assert cli.PLOT_INSTALL in section
    assert "latent-upscale[plot]" not in text


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
