"""img2img step arithmetic: the WebUI formula, the slice that runs, ComfyUI's KSampler rule."""

from __future__ import annotations

import functools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from latent_upscale.schedules import get_sigmas
from latent_upscale.steps import img2img_sigmas, img2img_steps, ksampler_sigmas
from latent_upscale.tables import discrete_sigmas
from tests import golden


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
    normal, karras = COMFY_FIRST[denoise]
    assert ksampler_sigmas("normal", 30, denoise, table("comfyui"))[0].item() == pytest.approx(
        normal, abs=1e-6
    )
    assert ksampler_sigmas("karras", 30, denoise, table("comfyui"))[0].item() == pytest.approx(
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
    for full in (False, True):
        empty = img2img_sigmas("karras", 30, 0, full, table("a1111"))
        assert empty.numel() == 0
        assert empty.dtype == torch.float32
    assert ksampler_sigmas("karras", 30, 0.0, table("comfyui")).numel() == 0


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


def test_too_short_schedule_for_the_slice() -> None:
    # ComfyUI Beta drops repeated timesteps: 600 steps give 561 values, the slice starts at 570
    with pytest.raises(ValueError, match="too few"):
        img2img_sigmas("beta_comfyui", 30, 0.05, True, table("comfyui"))


@settings(max_examples=80, deadline=None)
@given(steps=st.integers(1, 150), denoise=st.floats(0.001, 1.0), full=st.booleans())
def test_step_formula_properties(steps: int, denoise: float, full: bool) -> None:
    total, t_enc = img2img_steps(steps, denoise, full)
    capped = min(denoise, 0.999)
    if full:
        assert t_enc + 1 == steps  # exactly the slider's steps run
        assert total >= steps
        assert total == math.floor(steps / capped)
    else:
        assert total == steps
        assert t_enc + 1 == math.floor(capped * steps) + 1
    assert 0 <= total - t_enc - 1 < total


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
    whole = get_sigmas(name, total, sd)
    assert ran.numel() == t_enc + 2
    assert torch.equal(ran, whole[whole.numel() - ran.numel() :])
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
    comfy = table("comfyui")
    assert torch.equal(
        img2img_sigmas(name, steps, denoise, True, comfy),
        ksampler_sigmas(name, steps, denoise, comfy),
    )


COMFY_NAMES = {"beta": "beta_comfyui", "kl_optimal": "kl_optimal_comfyui"}


def _ksampler_cases() -> list:
    if not (golden.GOLDEN_DIR / "sigmas.json").is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason="golden/sigmas.json absent"))]
    return [
        pytest.param(c, id=c["id"])
        for c in golden.cases("sigmas.json", implementation="comfyui_ksampler_denoise")
    ]


@pytest.mark.parametrize("case", _ksampler_cases())
def test_full_steps_against_comfyui_ksampler_golden(case: dict) -> None:
    name = COMFY_NAMES.get(case["schedule"], case["schedule"])
    expected = torch.tensor(case["output"], dtype=torch.float64)
    args = (name, case["steps"], case["params"]["denoise"])
    if name in SAME_LENGTH:
        ours = img2img_sigmas(*args, True, table("comfyui")).double()
        assert ours.numel() == expected.numel()
        assert torch.allclose(ours, expected, rtol=1e-5, atol=0)
    else:
        # ddim_uniform / beta_comfyui: their length is steps + 1 only for some step counts;
        # otherwise the WebUI's slice by index and ComfyUI's "last steps + 1 values" differ.
        # ksampler_sigmas keeps ComfyUI's rule.
        ours = ksampler_sigmas(*args, table("comfyui")).double()
        assert torch.allclose(ours, expected, rtol=1e-5, atol=0)
        total, _ = img2img_steps(case["steps"], case["params"]["denoise"], True)
        same_length = get_sigmas(name, total, table("comfyui")).numel() == total + 1
        try:
            webui = img2img_sigmas(*args, True, table("comfyui")).double()
        except ValueError:
            assert not same_length  # too short for the WebUI slice (ComfyUI Beta, low denoise)
            return
        agree = webui.numel() == expected.numel() and torch.equal(webui, expected)
        assert agree == same_length


def test_ksampler_discard_penultimate() -> None:
    comfy = table("comfyui")
    plain = get_sigmas("karras", 11, comfy)
    ours = ksampler_sigmas("karras", 10, 1.0, comfy, discard_penultimate=True)
    assert ours.numel() == 11
    assert torch.equal(ours[:-1], plain[:-2])
    assert ours[-1].item() == 0.0
