"""``schedule --passes N --scale F``: what each pass of a multi-pass latent upscale runs.

Sizes are checked against the geometric rule written out here (each side ``source *
(target / source) ** (k / n)``, rounded half up to a multiple of 8, the last pass exactly the
target), and sigmas against :func:`latent_upscale.steps.plan_img2img` at each pass's strength
(the one schedule path the WebUI runs too), never against the command's own helpers.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import pytest
import torch

from latent_upscale import passes as ps
from latent_upscale.command import cli
from latent_upscale.steps import MAX_SCHEDULE_LENGTH, plan_img2img
from latent_upscale.tables import discrete_sigmas
from tests.test_cli import run, schedule_json

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROW = re.compile(r"^\s*(\d+)((?:\s+(?:-|-?[0-9.]+))+)\s*$")
PASS_LINE = re.compile(
    r"^\s*pass (\d+)/(\d+): (\d+)x(\d+) px -> latent (\d+)x(\d+), denoise ([0-9.]+): "
    r"(?:full steps|steps x denoise), (\d+) steps run, from sigma #(\d+) of a (\d+)-step schedule$"
)


def nearest_multiple_of_8(value: float) -> int:
    """Half up, at least 8 (the WebUI's sliders move in 8s)."""
    return max(8, math.floor(value / 8 + 0.5) * 8)


def expected_sizes(size: tuple[int, int], scale: float, n: int) -> list[tuple[int, int]]:
    """The geometric rule, from the formula: source * (target / source) ** (k / n)."""
    w0, h0 = size
    if scale > 0:
        w1, h1 = nearest_multiple_of_8(w0 * scale), nearest_multiple_of_8(h0 * scale)
    else:
        w1, h1 = w0, h0
    sizes = [
        (
            nearest_multiple_of_8(w0 * (w1 / w0) ** (k / n)),
            nearest_multiple_of_8(h0 * (h1 / h0) ** (k / n)),
        )
        for k in range(1, n)
    ]
    return [*sizes, (w1, h1)]


def webui_steps(steps: int, denoise: float, full_steps: bool) -> tuple[int, int]:
    """(total, t_enc) by the WebUI's setup_img2img_steps rule (full steps off at denoise 0)."""
    capped = min(denoise, 0.999)
    if full_steps and denoise > 0:
        return int(steps / capped), steps - 1
    return steps, int(capped * steps)


def parse_table(text: str) -> list[list[float]]:
    """The sigma columns of the per-pass table, in order, without the '-' fillers."""
    columns: list[list[float]] = []
    for line in text.splitlines():
        match = ROW.match(line)
        if not match:
            continue
        cells = match[2].split()
        while len(columns) < len(cells):
            columns.append([])
        for column, cell in zip(columns, cells, strict=False):
            if cell != "-":
                column.append(float(cell))
    return columns


CASES = [
    # size, scale, passes, extra options
    ((512, 512), 2.0, 2, []),
    ((512, 768), 1.5, 3, ["--later-denoise", "0.3", "-s", "karras"]),
    ((640, 448), 2.5, 4, ["--denoise", "0.55", "--sampler", "DPM2", "--model", "sdxl"]),
    ((832, 1216), 1.25, 1, ["--no-full-steps", "--steps", "20"]),
    ((96, 64), 8.0, 4, ["-s", "align_your_steps", "--table", "float64"]),
    ((512, 512), 0.0, 3, ["--later-denoise", "0.25"]),  # passes without upscale: same size
    ((1000, 600), 1.7, 2, ["--denoise", "0.7", "--later-denoise", "0", "-s", "exponential"]),
]


def argv_for(size: tuple[int, int], scale: float, passes: int, extra: list[str]) -> list[str]:
    return [
        "--size", f"{size[0]}x{size[1]}", "--scale", f"{scale:g}", "--passes", str(passes),
        *extra,
    ]  # fmt: skip


def option(extra: list[str], names: tuple[str, ...], default: str) -> str:
    for i, item in enumerate(extra):
        if item in names:
            return extra[i + 1]
    return default


@pytest.mark.parametrize(("size", "scale", "passes", "extra"), CASES)
def test_json_passes_follow_the_geometric_rule_and_the_img2img_plan(
    capsys, size, scale, passes, extra
):
    data = schedule_json(capsys, *argv_for(size, scale, passes, extra))
    steps = int(option(extra, ("--steps",), "30"))
    denoise = float(option(extra, ("--denoise",), "0.4"))
    later = float(option(extra, ("--later-denoise",), str(ps.DEFAULT_LATER_DENOISE)))
    scheduler = option(extra, ("-s", "--scheduler"), "simple")
    sampler = option(extra, ("--sampler",), "Euler")
    model = option(extra, ("--model",), "sd1")
    table = discrete_sigmas(option(extra, ("--table",), "a1111"))
    full = "--no-full-steps" not in extra

    sizes = expected_sizes(size, scale, passes)
    assert [(p["width"], p["height"]) for p in data["passes"]] == sizes
    assert [p["pass"] for p in data["passes"]] == list(range(1, passes + 1))
    assert data["settings"]["target"] == list(sizes[-1])
    assert data["settings"]["size"] == list(size)
    total = 0
    for entry, (w, h) in zip(data["passes"], sizes, strict=True):
        assert entry["latent"] == [h // 8, w // 8]
        strength = denoise if entry["pass"] == 1 else later
        assert entry["denoise"] == strength
        want = plan_img2img(
            scheduler, steps, strength, full, table, sampler=sampler, sdxl=model == "sdxl"
        )
        assert entry["sigmas"] == want.sigmas.tolist()  # exactly: the same computation
        assert entry["steps_run"] == len(entry["sigmas"]) - 1
        total_steps, t_enc = webui_steps(steps, strength, full)
        assert (entry["total_steps"], entry["t_enc"]) == (total_steps, t_enc)
        assert entry["start"] == total_steps - t_enc - 1
        total += entry["steps_run"]
    assert data["steps_run_all_passes"] == total


@pytest.mark.parametrize(("size", "scale", "passes", "extra"), CASES)
def test_text_and_json_agree_pass_by_pass(capsys, size, scale, passes, extra):
    argv = argv_for(size, scale, passes, extra)
    data = schedule_json(capsys, *argv)
    code, out, err = run(capsys, "schedule", *argv)
    assert code == 0, err
    lines = [PASS_LINE.match(line) for line in out.splitlines()]
    found = [m for m in lines if m]
    assert len(found) == passes
    for match, entry in zip(found, data["passes"], strict=True):
        k, n, w, h, lw, lh, denoise, run_steps, start, total = match.groups()
        assert (int(k), int(n)) == (entry["pass"], passes)
        assert (int(w), int(h)) == (entry["width"], entry["height"])
        assert [int(lh), int(lw)] == entry["latent"]
        assert float(denoise) == pytest.approx(entry["denoise"])
        assert int(run_steps) == entry["steps_run"]
        assert (int(start), int(total)) == (entry["start"], entry["total_steps"])
    s = "es" if passes > 1 else ""
    assert f"total: {data['steps_run_all_passes']} steps run across {passes} pass{s}" in out
    columns = parse_table(out)
    assert len(columns) == passes
    for column, entry in zip(columns, data["passes"], strict=True):
        assert column == pytest.approx(entry["sigmas"], abs=1e-6, rel=0)


def test_two_x_in_two_passes(capsys):
    """The README's worked example: 512x512 to 1024x1024 via 728x728 (512 * sqrt 2 = 724.1)."""
    code, out, _ = run(capsys, "schedule", "--passes", "2", "--scale", "2")
    assert code == 0
    assert out.startswith("512x512 -> 1024x1024 px (x2) in 2 passes: simple, 30 steps")
    assert "pass 1/2: 728x728 px -> latent 91x91, denoise 0.4: full steps, 30 steps run" in out
    assert "pass 2/2: 1024x1024 px -> latent 128x128, denoise 0.4: full steps, 30 steps run" in out
    assert "total: 60 steps run across 2 passes" in out
    table = discrete_sigmas("a1111")
    want = plan_img2img("simple", 30, 0.4, True, table).sigmas.tolist()
    for column in parse_table(out):
        assert column == pytest.approx(want, abs=1e-6, rel=0)


def test_pass_one_is_the_one_pass_job(capsys):
    """The top-level keys keep their one-pass meaning: pass 1's denoise, as without passes."""
    one = schedule_json(capsys, "-s", "karras", "--denoise", "0.6")
    many = schedule_json(capsys, "-s", "karras", "--denoise", "0.6", "--passes", "3")
    assert many["latent_upscale"] == one["latent_upscale"]
    assert many["webui_default"] == one["webui_default"]
    assert many["passes"][0]["sigmas"] == one["latent_upscale"]["sigmas"]
    assert {k: many["settings"][k] for k in one["settings"]} == one["settings"]


# --- defaults ----------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [[], ["--json"], ["-s", "karras", "--sampler", "DPM2"]])
def test_defaults_print_exactly_the_one_pass_output(capsys, extra):
    _, plain, _ = run(capsys, "schedule", *extra)
    explicit = [
        "--passes", "1", "--scale", "0", "--size", "512x512",
        "--later-denoise", str(ps.DEFAULT_LATER_DENOISE),
    ]  # fmt: skip
    _, same, _ = run(capsys, "schedule", *extra, *explicit)
    assert same == plain
    assert "pass 1/" not in plain
    if "--json" in extra:
        assert "passes" not in json.loads(plain)
    else:
        assert plain.startswith("img2img with 30 steps at denoise 0.4")


def test_help_documents_the_options_and_the_json(capsys):
    code, out, _ = run(capsys, "schedule", "--help")
    assert code == 0
    flat = " ".join(out.split())
    for text in ("--passes N", "--scale F", "--size WxH", "--later-denoise D", "--png"):
        assert text in flat, text
    for key in ("pass", "width", "height", "latent", "total_steps", "t_enc", "start"):
        assert f'"{key}"' in flat, key
    assert "steps_run_all_passes" in flat


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--passes", "0"], f"from 1 to {ps.MAX_PASSES}"),
        (["--passes", str(ps.MAX_PASSES + 1)], f"from 1 to {ps.MAX_PASSES}"),
        (["--passes", "2.5"], f"from 1 to {ps.MAX_PASSES}"),
        (["--passes", "two"], f"from 1 to {ps.MAX_PASSES}"),
        (["--scale", "-1"], f"0 (off) or a factor up to {ps.MAX_SCALE:g}"),
        (["--scale", "8.5"], f"0 (off) or a factor up to {ps.MAX_SCALE:g}"),
        (["--scale", "nan"], f"0 (off) or a factor up to {ps.MAX_SCALE:g}"),
        (["--scale", "inf"], f"0 (off) or a factor up to {ps.MAX_SCALE:g}"),
        (["--scale", "x2"], f"0 (off) or a factor up to {ps.MAX_SCALE:g}"),
        (["--later-denoise", "1.5"], "[0, 1]"),
        (["--later-denoise", "-0.1"], "[0, 1]"),
        (["--later-denoise", "nan"], "[0, 1]"),
        (["--size", "512"], "WxH"),
        (["--size", "axb"], "WxH"),
        (["--size", "4x512"], f"[8, {cli.MAX_PIXEL_SIDE}]"),
        (["--size", f"512x{cli.MAX_PIXEL_SIDE + 1}"], f"[8, {cli.MAX_PIXEL_SIDE}]"),
        (["--size", "4096x2048", "--scale", "3"], f"limit of {cli.MAX_PIXEL_SIDE} pixels"),
        (["--passes", "2", "--later-denoise", "1e-7"], str(MAX_SCHEDULE_LENGTH)),
        (
            ["--passes", "2", "--steps", "9000", "--denoise", "1", "--later-denoise", "0.5"],
            "later passes",
        ),
        (["--scale", "2", "--denoise", "1e-7"], str(MAX_SCHEDULE_LENGTH)),
    ],
)
def test_bad_values_exit_2_with_the_valid_range_before_computing(
    capsys, monkeypatch, tmp_path, argv, message
):
    monkeypatch.setattr(ps, "plan_img2img", lambda *a, **k: pytest.fail("computed"))
    target = tmp_path / "passes.png"
    code, out, err = run(capsys, "schedule", *argv, "--png", str(target))
    assert code == 2
    assert message in err
    assert out == ""
    assert not target.exists()


def test_later_denoise_over_the_limit_only_matters_with_later_passes(capsys):
    code, _, err = run(capsys, "schedule", "--scale", "2", "--later-denoise", "1e-7")
    assert code == 0, err  # one pass: the later denoise is never used


def test_the_largest_target_is_accepted(capsys):
    side = cli.MAX_PIXEL_SIDE // 8
    data = schedule_json(capsys, "--size", f"{side}x{side}", "--scale", "8", "--passes", "4")
    assert data["passes"][-1]["latent"] == [cli.MAX_PIXEL_SIDE // 8] * 2


# --- figure ------------------------------------------------------------------------------------


def test_png_draws_the_passes(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "passes.png"
    code, out, err = run(capsys, "schedule", "--passes", "2", "--scale", "2", "--png", str(target))
    assert code == 0, err
    assert target.read_bytes().startswith(PNG_SIGNATURE)
    assert f"wrote {target}" in out
    assert [p.name for p in tmp_path.iterdir()] == ["passes.png"]  # no temp file left


def test_png_with_json_prints_only_json(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "passes.png"
    code, out, _ = run(capsys, "schedule", "--passes", "3", "--json", "--plot", str(target))
    assert code == 0
    assert len(json.loads(out)["passes"]) == 3
    assert target.read_bytes().startswith(PNG_SIGNATURE)


def test_the_committed_figure_is_what_the_command_draws(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    name = cli.FIGURE_FILES["passes"]
    target = tmp_path / name
    code, _, err = run(capsys, "schedule", *cli.PASSES_FIGURE_ARGS, "--png", str(target))
    assert code == 0, err
    drawn = target.read_bytes()
    assert cli.build_figures()[name] == drawn  # `figures` draws exactly this command's figure
    assert len(drawn) < 150 * 1024
    # committed (bytes depend on the matplotlib version, so only the file is checked here)
    committed = ROOT / "assets" / name
    assert committed.read_bytes().startswith(PNG_SIGNATURE), "python -m latent_upscale figures"


def test_figure_without_matplotlib_fails_cleanly(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    target = tmp_path / "passes.png"
    code, out, err = run(capsys, "schedule", "--passes", "2", "--png", str(target))
    assert code == 1
    assert "pip install -e '.[plot]'" in err
    assert out == ""
    assert not target.exists()


def test_figure_draws_every_pass(monkeypatch):
    """The figure gets one sigma line per pass and one size per pass plus the init image."""
    pytest.importorskip("matplotlib")
    from latent_upscale.command import plotting

    seen = {}

    def capture(series, sizes, *, title):
        seen.update(series=series, sizes=sizes, title=title)
        return b""

    monkeypatch.setattr(plotting, "passes_png", capture)
    args = cli.build_parser().parse_args(
        ["schedule", "--passes", "3", "--scale", "1.5", "--size", "512x768"]
    )
    cli._passes_png(plotting, cli._passes_plan(args), args)
    sizes = expected_sizes((512, 768), 1.5, 3)
    assert [(w, h) for _, w, h in seen["sizes"]] == [(512, 768), *sizes]
    assert len(seen["series"]) == 3
    table = discrete_sigmas("a1111")
    for (label, sigmas), strength, (w, h) in zip(
        seen["series"], (0.4, 0.4, 0.4), sizes, strict=True
    ):
        assert f"{w}x{h}" in label
        assert torch.equal(
            torch.tensor(sigmas), plan_img2img("simple", 30, strength, True, table).sigmas
        )
    assert "512x768 → 768x1152" in seen["title"]
