"""img2img step arithmetic: the WebUI formula and the slice that runs, checked against the
documented worked table, the reference vectors (a1111_img2img, comfyui_ksampler_denoise) and
properties; ComfyUI's KSampler rule comes from tests/test_golden_sigmas.py, not the package."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from latent_upscale.schedules import get_sigmas
from latent_upscale.steps import img2img_sigmas, img2img_steps
from latent_upscale.tables import discrete_sigmas
from tests import golden
from tests.test_golden_sigmas import comfy_ksampler


@functools.cache
def table(kind: str) -> torch.Tensor:
    return discrete_sigmas(kind)


# schedules-and-methods.md §2.4, steps = 30 (run by the doc's authors on the WebUI's code):
# denoise, full steps, total, t_enc, slice start, values, first sigma Automatic/Euler, Karras
WORKED = [
    (0.05, False, 30, 1, 28, 3, 0.183451, 0.040858),
    (0.05, True, 600, 29, 570, 31, 0.221354, 0.046610),
    (0.3, False, 30, 9, 20, 11, 0.862174, 0.381743),
    (0.3, True, 100, 29, 70, 31, 0.811608, 0.337957),
    (0.4, False, 30, 12, 17, 14, 1.216577, 0.755756),
    (0.4, True, 75, 29, 45, 31, 1.132355, 0.657590),
    (0.5, False, 30, 15, 14, 17, 1.711616, 1.408016),
    (0.5, True, 60, 29, 30, 31, 1.570651, 1.212391),
    (0.75, False, 30, 22, 7, 24, 4.239697, 4.999893),
    (0.75, True, 40, 29, 10, 31, 3.976552, 4.649968),
    (1.0, False, 30, 29, 0, 31, 14.614643, 14.614643),
    (1.0, True, 30, 29, 0, 31, 14.614643, 14.614643),
]
# the same table's ComfyUI KSampler column: denoise -> first sigma (normal, karras)
COMFY_FIRST = {
    0.05: (0.221354, 0.046609),
    0.3: (0.811608, 0.337955),
    0.4: (1.132355, 0.657587),
    0.5: (1.570651, 1.212386),
    0.75: (3.976552, 4.649962),
    1.0: (14.614640, 14.614643),
}


@pytest.mark.parametrize(
    ("denoise", "full", "total", "t_enc", "start", "values", "auto", "karras"), WORKED
)
def test_worked_table(
    denoise: float,
    full: bool,
    total: int,
    t_enc: int,
    start: int,
    values: int,
    auto: float,
    karras: float,
) -> None:
    assert img2img_steps(30, denoise, full) == (total, t_enc)
    assert total - t_enc - 1 == start
    a = img2img_sigmas("Automatic", 30, denoise, full, table("a1111"), sampler="Euler")
    k = img2img_sigmas("Karras", 30, denoise, full, table("a1111"))
    assert a.numel() == k.numel() == values
    assert a[0].item() == pytest.approx(auto, abs=1e-6)  # the doc rounds to 6 decimals
    assert k[0].item() == pytest.approx(karras, abs=1e-6)
    assert a[-1].item() == k[-1].item() == 0.0


@pytest.mark.parametrize("denoise", list(COMFY_FIRST))
def test_worked_table_comfyui_column(denoise: float) -> None:
    # the doc: with fix-steps on, the WebUI runs ComfyUI KSampler's slice (ComfyUI's table)
    normal, karras = COMFY_FIRST[denoise]
    comfy = table("comfyui")
    assert img2img_sigmas("normal", 30, denoise, True, comfy)[0].item() == pytest.approx(
        normal, abs=1e-6
    )
    assert img2img_sigmas("karras", 30, denoise, True, comfy)[0].item() == pytest.approx(
        karras, abs=1e-6
    )


def test_readme_example_30_steps_at_denoise_0_4() -> None:
    sd = table("a1111")
    assert img2img_sigmas("karras", 30, 0.4, False, sd).numel() - 1 == 13
    assert img2img_sigmas("karras", 30, 0.4, True, sd).numel() - 1 == 30


def test_hosts_doc_examples() -> None:
    # webui-hosts.md §3.3: 20 steps at 0.5 -> 21-sigma schedule, last 12, 11 steps;
    # fix-steps: 41-sigma schedule (40 steps), last 21, 20 steps
    assert img2img_steps(20, 0.5, False) == (20, 10)
    assert img2img_steps(20, 0.5, True) == (40, 19)
    sd = table("a1111")
    assert img2img_sigmas("normal", 20, 0.5, False, sd).numel() == 12
    assert img2img_sigmas("normal", 20, 0.5, True, sd).numel() == 21


def test_denoise_is_capped_at_0_999() -> None:
    assert img2img_steps(30, 1.0, True) == (30, 29)  # int(30 / 0.999) == 30
    assert img2img_steps(2000, 1.0, True) == (2002, 1999)
    assert img2img_steps(2000, 1.0, False) == (2000, 1998)  # int(0.999 * 2000)


def test_denoise_zero() -> None:
    assert img2img_steps(30, 0, True) == (0, 29)
    assert img2img_steps(30, 0.0, False) == (30, 0)
    sd = table("a1111")
    for full in (False, True):
        # the WebUI's own rule at t_enc = 0: one step from the lowest sigma (Karras ends at the
        # table's sigma_min) to 0; full steps cannot apply (a 0-step schedule)
        tail = img2img_sigmas("karras", 30, 0, full, sd)
        assert tail.dtype == torch.float32
        assert tail.tolist() == [pytest.approx(sd[0].item(), rel=1e-6), 0.0]


@pytest.mark.parametrize("denoise", [-0.1, 1.01, math.nan, math.inf, "0.5", None, True])
def test_bad_denoise(denoise: object) -> None:
    with pytest.raises(ValueError, match=r"denoise must be a number in \[0, 1\]"):
        img2img_steps(30, denoise, False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="denoise"):
        img2img_sigmas("karras", 30, denoise, True, table("a1111"))  # type: ignore[arg-type]


@pytest.mark.parametrize("steps", [0, -3, 1.5, False])
def test_bad_steps(steps: object) -> None:
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        img2img_steps(steps, 0.5, False)  # type: ignore[arg-type]


def test_unknown_schedule_is_reported_before_any_work() -> None:
    with pytest.raises(ValueError, match="unknown schedule"):
        img2img_sigmas("Karas", 30, 0.5, True, table("a1111"))


def test_short_schedule_still_runs_the_slider_steps() -> None:
    # ComfyUI Beta merges repeated timesteps: 600 steps give 559 distinct Beta-quantile
    # timesteps (counted here from scipy's inverse incomplete beta) + the final 0 = 560 values,
    # shorter than the WebUI's slice start 570; full steps still run 30 steps, ComfyUI's tail
    levels = 1 - torch.arange(600, dtype=torch.float64) / 600
    t = special.betaincinv(0.6, 0.6, levels.numpy()) * 999
    assert len(set(np.rint(t).astype(int).tolist())) + 1 == 560
    assert get_sigmas("beta_comfyui", 600, table("comfyui")).numel() == 560
    ours = img2img_sigmas("beta_comfyui", 30, 0.05, True, table("comfyui"))
    assert torch.equal(ours, comfy_ksampler("beta_comfyui", 30, 0.05))


@settings(max_examples=80, deadline=None)
@given(steps=st.integers(1, 150), denoise=st.floats(0.001, 1.0), full=st.booleans())
def test_step_counts_properties(steps: int, denoise: float, full: bool) -> None:
    total, t_enc = img2img_steps(steps, denoise, full)
    ran = t_enc + 1  # the host runs the schedule's tail from index total - t_enc - 1
    assert 0 <= total - t_enc - 1 < total
    if full:
        assert ran == steps  # exactly the slider's steps
        assert total >= steps
        # the steps cover about `denoise` of a schedule of `total`: within one step
        assert steps - 1 <= min(denoise, 0.999) * (total + 1)
        assert min(denoise, 0.999) * total <= steps + 1e-9
    else:
        assert total == steps
        assert 1 <= ran <= steps
        # the tail runs `denoise` of the steps, rounded down, plus the step at t_enc
        capped = min(denoise, 0.999)
        assert ran - 1 <= capped * steps + 1e-9
        assert capped * steps < ran + 1e-9


@settings(max_examples=60, deadline=None)
@given(
    steps=st.integers(1, 150),
    low=st.floats(0.001, 1.0),
    high=st.floats(0.001, 1.0),
    full=st.booleans(),
)
def test_step_counts_are_monotonic_in_denoise(
    steps: int, low: float, high: float, full: bool
) -> None:
    low, high = sorted((low, high))
    (total_lo, t_lo), (total_hi, t_hi) = (img2img_steps(steps, d, full) for d in (low, high))
    assert t_lo <= t_hi  # more denoise never runs fewer steps
    assert total_lo - t_lo >= total_hi - t_hi  # ... nor starts later in the schedule


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(["normal", "karras", "exponential", "simple", "sgm_uniform", "beta"]),
    steps=st.integers(1, 80),
    denoise=st.floats(0.02, 1.0),
    full=st.booleans(),
)
def test_slice_is_the_tail_of_the_total_schedule(
    name: str, steps: int, denoise: float, full: bool
) -> None:
    sd = table("a1111")
    total, t_enc = img2img_steps(steps, denoise, full)
    ran = img2img_sigmas(name, steps, denoise, full, sd)
    tail = get_sigmas(name, total, sd)[-(t_enc + 2) :]  # the WebUI's slice
    keep = torch.ones_like(tail, dtype=torch.bool)  # less any repeated sigma (a zero-length
    keep[1:] = tail[1:] != tail[:-1]  # step: Simple longer than the table repeats entries)
    assert torch.equal(ran, tail[keep])
    assert ran.numel() == t_enc + 2 or total > sd.numel()
    assert ran[-1].item() == 0.0


# With full steps, the WebUI and ComfyUI's KSampler run the same slice of the same-named schedule
# whenever the schedule has steps + 1 values.
SAME_LENGTH = [
    "simple",
    "normal",
    "karras",
    "exponential",
    "sgm_uniform",
    "kl_optimal_comfyui",
    "linear_quadratic",
]


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(SAME_LENGTH), steps=st.integers(1, 80), denoise=st.floats(0.02, 1.0))
def test_full_steps_equals_comfyui_ksampler(name: str, steps: int, denoise: float) -> None:
    # comfy_ksampler: ComfyUI's KSampler.set_steps restated in the golden test, not our code.
    # Where ComfyUI's run repeats a sigma (Simple longer than the table), we drop the repeats:
    # a zero-length step (DPM++ 2M divides by the last step size there)
    want = comfy_ksampler(name, steps, denoise)
    keep = torch.ones_like(want, dtype=torch.bool)
    keep[1:] = want[1:] != want[:-1]
    assert torch.equal(img2img_sigmas(name, steps, denoise, True, table("comfyui")), want[keep])


COMFY_NAMES = {"beta": "beta_comfyui", "kl_optimal": "kl_optimal_comfyui"}


def _ksampler_cases() -> list:
    return [
        pytest.param(c, id=c["id"])
        for c in golden.cases("sigmas.json", implementation="comfyui_ksampler_denoise")
    ]


@pytest.mark.parametrize("case", _ksampler_cases())
def test_full_steps_against_comfyui_ksampler_golden(case: dict) -> None:
    """The reference KSampler output: steps + 1 values; with full steps we run exactly those
    whenever the schedule is steps + 1 long (otherwise the WebUI's slice by index differs)."""
    name = COMFY_NAMES.get(case["schedule"], case["schedule"])
    expected = torch.tensor(case["output"], dtype=torch.float64)
    steps, denoise = case["steps"], case["params"]["denoise"]
    assert expected.numel() == steps + 1  # KSampler runs the slider's steps
    assert expected[-1].item() == 0.0
    assert bool((expected[1:] < expected[:-1]).all())
    try:
        ours = img2img_sigmas(name, steps, denoise, True, table("comfyui")).double()
    except ValueError:
        ours = None  # too short for the WebUI slice (ComfyUI Beta at low denoise)
    if name in SAME_LENGTH:
        assert ours is not None
        assert ours.numel() == expected.numel()
        assert torch.allclose(ours, expected, rtol=1e-5, atol=0)
        return
    # ddim_uniform / beta_comfyui: the schedule for `total` steps can have more (DDIM) or fewer
    # (Beta drops repeats) than total + 1 values. ComfyUI runs its last steps + 1 values; the
    # WebUI slices from index total - t_enc - 1, which gives the same values only when the
    # length is total + 1.
    total, t_enc = img2img_steps(steps, denoise, True)
    whole = get_sigmas(name, total, table("comfyui")).double()
    assert torch.allclose(whole[-(steps + 1) :], expected, rtol=1e-5, atol=0)
    by_index = whole[total - t_enc - 1 :]
    same = by_index.numel() == expected.numel() and torch.allclose(by_index, expected, rtol=1e-5)
    assert same == (whole.numel() == total + 1)
    if ours is not None:  # whatever we run with full steps, it is the slider's steps
        assert ours.numel() == steps + 1
        assert ours[-1].item() == 0.0


def test_ksampler_golden_cases_include_both_outcomes() -> None:
    """The cases above see the WebUI slice both agree and disagree with ComfyUI's."""
    outcomes = set()
    for case in golden.cases("sigmas.json", implementation="comfyui_ksampler_denoise"):
        name = COMFY_NAMES.get(case["schedule"], case["schedule"])
        if name not in SAME_LENGTH:
            total, _ = img2img_steps(case["steps"], case["params"]["denoise"], True)
            outcomes.add(get_sigmas(name, total, table("comfyui")).numel() == total + 1)
    assert outcomes == {True, False}


def _img2img_cases() -> list:
    return [
        pytest.param(c, id=c["id"])
        for c in golden.cases("sigmas.json", implementation="a1111_img2img")
        + golden.cases("sigmas.json", implementation="feynlee-latent-upscale_img2img")
    ]


@pytest.mark.parametrize("case", _img2img_cases())
def test_step_counts_against_the_webui_golden(case: dict) -> None:
    """The WebUI's own step arithmetic, as recorded with each reference slice."""
    p = case["params"]
    total, t_enc = img2img_steps(case["steps"], p["denoise"], p["img2img_fix_steps"])
    assert (total, t_enc) == (case["total_steps"], case["t_enc"])
    assert total - t_enc - 1 == case["start_index"]
    # the reference ran t_enc + 1 steps: t_enc + 2 sigmas ending at 0, except where the
    # schedule itself is longer than total + 1 (DDIM) or has no final 0 (A1111 KL Optimal)
    if case["schedule"] not in ("DDIM", "ddim_uniform"):
        assert len(case["output"]) == t_enc + 2
    else:
        assert len(case["output"]) >= t_enc + 2
    assert (case["output"][-1] == 0) == (case["schedule"] != "KL Optimal")
    if p["img2img_fix_steps"]:
        assert t_enc + 1 == case["steps"]
