"""Properties of every schedule, the registry, label lookup and input errors."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from latent_upscale.schedules import (
    SCHEDULES,
    Schedule,
    automatic_choice,
    get_sigmas,
    resolve_schedule,
)
from latent_upscale.tables import discrete_sigmas
from tests import golden

NO_FINAL_ZERO = {"kl_optimal"}  # the WebUI's kl_optimal ends at sigma_min
OWN_TABLE = {"align_your_steps", "align_your_steps_comfyui"}  # fixed AYS tables, range ignored
AYS_TOP = 14.615  # the largest value in either AYS table


def expected_len(name: str, n: int, table_len: int) -> int | None:
    """Length each reference returns (None: only bounded, see the test).

    DDIM takes every s-th table entry from index 1 (s = table_len // n, at least 1): the count
    of 1, 1 + s, ... below table_len is ceil((table_len - 1) / s), plus the final 0. Checked
    against the reference lengths in test_expected_len_matches_the_references.
    """
    if name == "ddim_uniform":
        return -(-(table_len - 1) // max(table_len // n, 1)) + 1
    if name == "beta_comfyui":
        return None  # repeated timesteps are dropped: 2 <= len <= n + 1
    return n + 1


# reference groups whose lengths expected_len must reproduce -> our schedule name
REFERENCE_NAMES = {
    ("a1111", "uniform"): "uniform",
    ("a1111", "karras"): "karras",
    ("a1111", "exponential"): "exponential",
    ("a1111", "polyexponential"): "polyexponential",
    ("a1111", "sgm_uniform"): "sgm_uniform",
    ("a1111", "kl_optimal"): "kl_optimal",
    ("a1111", "align_your_steps"): "align_your_steps",
    ("a1111", "simple"): "simple",
    ("a1111", "normal"): "normal",
    ("a1111", "ddim"): "ddim_uniform",
    ("a1111", "beta"): "beta",
    ("a1111_edge", "DDIM"): "ddim_uniform",
    ("a1111_edge", "Simple"): "simple",
    ("a1111_edge", "Uniform"): "uniform",
    ("comfyui", "ddim_uniform"): "ddim_uniform",
    ("comfyui", "beta"): "beta_comfyui",
    ("comfyui", "kl_optimal"): "kl_optimal_comfyui",
    ("comfyui", "linear_quadratic"): "linear_quadratic",
    ("comfyui_edge", "ddim_uniform"): "ddim_uniform",
    ("comfyui_edge", "beta"): "beta_comfyui",
    ("comfyui_edge", "simple"): "simple",
    ("comfyui_edge", "normal"): "normal",
}


@pytest.mark.parametrize(("group", "name"), list(REFERENCE_NAMES.items()))
def test_expected_len_matches_the_references(group: tuple[str, str], name: str) -> None:
    implementation, schedule = group
    for case in golden.cases("sigmas.json", implementation=implementation, schedule=schedule):
        want = expected_len(name, case["steps"], 1000)
        if want is None:
            assert 2 <= case["len"] <= case["steps"] + 1
        else:
            assert case["len"] == want, case["id"]


def check_schedule(name: str, n: int, table: torch.Tensor) -> torch.Tensor:
    sigmas = get_sigmas(name, n, table)
    sigma_min, sigma_max = table[0].item(), table[-1].item()
    assert sigmas.dtype == torch.float32
    assert sigmas.device.type == "cpu"
    assert sigmas.ndim == 1
    assert torch.isfinite(sigmas).all()
    assert bool((sigmas[1:] <= sigmas[:-1]).all()), "sigmas must not increase"
    want = expected_len(name, n, table.numel())
    if want is None:
        assert 2 <= sigmas.numel() <= n + 1
    else:
        assert sigmas.numel() == want
    if name in NO_FINAL_ZERO:
        assert sigmas[-1].item() == pytest.approx(sigma_min, rel=4e-6 + 3e-7 * sigma_min)
    else:
        assert sigmas[-1].item() == 0.0
    nonzero = sigmas[sigmas > 0]
    assert nonzero.numel() == sigmas.numel() - (0 if name in NO_FINAL_ZERO else 1)
    top = AYS_TOP if name in OWN_TABLE else sigma_max
    # float32 rounding as in the references: a few ulps (karras rho powers), and tan(atan(s))
    # loses about s * 1.2e-7 relative for large s
    tiny = 4e-6 + (3e-7 * top if name.startswith("kl_optimal") else 0)
    assert nonzero[0].item() <= top * (1 + tiny)
    if name not in OWN_TABLE | {"linear_quadratic"}:
        tiny = 4e-6 + (3e-7 * sigma_min if name.startswith("kl_optimal") else 0)
        assert nonzero[-1].item() >= sigma_min * (1 - tiny)
    return sigmas


@pytest.fixture(scope="module", params=["a1111", "comfyui"])
def sd_table(request: pytest.FixtureRequest) -> torch.Tensor:
    return discrete_sigmas(request.param)


@settings(max_examples=120, deadline=None)
@given(
    name=st.sampled_from(list(SCHEDULES)),
    n=st.integers(1, 1000),
    kind=st.sampled_from(["a1111", "comfyui"]),
)
def test_schedule_properties_on_sd_tables(name: str, n: int, kind: str) -> None:
    check_schedule(name, n, discrete_sigmas(kind))


@pytest.mark.parametrize("name", list(SCHEDULES))
@pytest.mark.parametrize("n", [1, 2, 3, 10, 999, 1000])
def test_schedule_properties_at_edge_step_counts(name: str, n: int, sd_table: torch.Tensor) -> None:
    check_schedule(name, n, sd_table)


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(list(SCHEDULES)),
    n=st.integers(1, 300),
    length=st.integers(2, 2000),
    top=st.floats(0.5, 200),
)
def test_schedule_properties_on_other_tables(name: str, n: int, length: int, top: float) -> None:
    # Forge flow models hand over tables in (0, 1]; others have other lengths and ranges
    table = torch.linspace(1 / length, 1.0, length) * top
    if table[-1].item() <= 1.001 and SCHEDULES[name].sd_only:
        # SD-only schedules (fixed SD tables, SD timestep mapping) refuse flow-model sigmas
        with pytest.raises(ValueError, match="SD-style models only"):
            get_sigmas(name, n, table)
        return
    check_schedule(name, n, table)


@pytest.mark.parametrize("name", ["normal", "sgm_uniform", "uniform", "align_your_steps"])
def test_sd_only_schedules_refuse_a_flow_table(name: str) -> None:
    flow = torch.linspace(0.001, 1.0, 1000)  # SD3 / Flux style: every sigma in (0, 1]
    with pytest.raises(ValueError, match="SD-style models only"):
        get_sigmas(name, 10, flow)
    check_schedule("simple", 10, flow)  # the table-driven ones still work


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("automatic", "max"),
        ("uniform", "max"),
        ("simple", "max"),
        ("normal", "max"),
        ("karras", "max"),
        ("exponential", "max"),
        ("polyexponential", "max"),
        ("sgm_uniform", "max"),
        ("beta", "max"),
        ("beta_comfyui", "max"),
        ("linear_quadratic", "max"),
        ("kl_optimal_comfyui", "max"),
        ("align_your_steps_comfyui", 14.6146412293),
        ("align_your_steps", 0.029),  # WebUI/Forge AYS interpolates to n points: n=1 is the end
        ("ddim_uniform", "t1"),  # DDIM starts at table entry 1
    ],
)
def test_one_step_goes_to_zero_from_the_documented_start(
    name: str, first: float | str, sd_table: torch.Tensor
) -> None:
    expected = {"max": sd_table[-1].item(), "t1": sd_table[1].item()}.get(first, first)
    sigmas = get_sigmas(name, 1, sd_table)
    assert sigmas.numel() == 2
    assert sigmas[1].item() == 0.0
    assert sigmas[0].item() == pytest.approx(expected, rel=1e-6)


def test_kl_optimal_one_step() -> None:
    table = discrete_sigmas("a1111")
    webui = get_sigmas("kl_optimal", 1, table)
    assert webui.tolist() == pytest.approx([table[-1].item(), table[0].item()], rel=1e-6)
    # ComfyUI's version is NaN at 1 step (0/0); ours runs from sigma_max straight to 0
    comfy = get_sigmas("kl_optimal_comfyui", 1, table)
    assert comfy.tolist() == [table[-1].item(), 0.0]


def test_normal_and_uniform_are_bit_identical_on_sd_tables(sd_table: torch.Tensor) -> None:
    for n in (1, 7, 30, 150):
        assert torch.equal(get_sigmas("normal", n, sd_table), get_sigmas("uniform", n, sd_table))


def test_polyexponential_rho_1_is_exponential(sd_table: torch.Tensor) -> None:
    a = get_sigmas("polyexponential", 25, sd_table)
    b = get_sigmas("exponential", 25, sd_table)
    assert torch.allclose(a, b, rtol=1e-5, atol=0)
    steeper = get_sigmas("polyexponential", 25, sd_table, rho=2.0)
    assert steeper[12].item() < a[12].item()  # larger rho moves steps toward low noise


@pytest.mark.parametrize(
    ("sampler", "name", "discard"),
    [
        ("Euler", "uniform", False),
        ("Euler a", "uniform", False),
        ("DPM++ 2M", "karras", False),
        ("DPM++ SDE", "karras", False),
        ("DPM2", "karras", True),
        ("DPM2 a", "karras", True),
        ("Restart", "karras", False),
        ("DPM++ 2M SDE", "exponential", False),
        ("DPM++ 3M SDE", "exponential", True),
        ("Some Extension Sampler", "uniform", False),
    ],
)
def test_automatic_follows_the_sampler(
    sampler: str, name: str, discard: bool, sd_table: torch.Tensor
) -> None:
    assert automatic_choice(sampler) == (name, discard)
    ours = get_sigmas("automatic", 12, sd_table, sampler=sampler)
    if discard:
        # the WebUI asks for one step more and removes the next-to-last sigma
        longer = get_sigmas(name, 13, sd_table)
        expected = torch.cat([longer[:-2], longer[-1:]])
    else:
        expected = get_sigmas(name, 12, sd_table)
    assert torch.equal(ours, expected)
    assert ours.numel() == 13


def test_zero_snr_tables_follow_comfyui() -> None:
    # smallest entries ~0: ComfyUI's normal takes n+1 points and ddim_uniform one more step,
    # neither appends a zero
    rest = torch.logspace(math.log10(0.03), math.log10(14.6), 998)
    table = torch.cat([torch.tensor([1e-7, 5e-6]), rest])
    normal = get_sigmas("normal", 10, table)
    assert normal.numel() == 11
    assert 0 < normal[-1].item() < 1e-5
    ddim = get_sigmas("ddim_uniform", 10, table)
    # one step more: stride 1000 // 11 = 90, entries 1, 91, ..., 991 (12), no zero appended
    assert ddim.numel() == 12
    assert 0 < ddim[-1].item() < 1e-5
    # sgm_uniform has no such branch: n points then 0
    assert get_sigmas("sgm_uniform", 10, table)[-1].item() == 0.0


def test_sdxl_selects_the_sdxl_ays_table() -> None:
    sd1 = get_sigmas("align_your_steps", 10)
    sdxl = get_sigmas("align_your_steps", 10, sdxl=True)
    assert not torch.equal(sd1, sdxl)
    assert sdxl[0].item() == sd1[0].item() == pytest.approx(14.615)
    # ComfyUI node: 11-point table kept at 10 steps, last replaced by 0
    comfy = get_sigmas("align_your_steps_comfyui", 10, sdxl=True)
    assert comfy[-2].item() == pytest.approx(0.1114188177)
    assert comfy[-1].item() == 0.0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_table_dtype_is_accepted_and_output_is_float32(dtype: torch.dtype) -> None:
    table = discrete_sigmas("float64").to(dtype)
    for name in SCHEDULES:
        out = get_sigmas(name, 20, table)
        assert out.dtype == torch.float32
        assert torch.isfinite(out).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_table_on_cuda_gives_the_cpu_result() -> None:
    table = discrete_sigmas("a1111")
    for name in SCHEDULES:
        out = get_sigmas(name, 20, table.cuda())
        assert out.device.type == "cpu"
        assert torch.equal(out, get_sigmas(name, 20, table))


def test_explicit_range_overrides_table_ends() -> None:
    table = discrete_sigmas("a1111")
    old = get_sigmas("karras", 20, table, sigma_min=0.1, sigma_max=10)
    assert old[0].item() == pytest.approx(10.0)
    assert old[-2].item() == pytest.approx(0.1)
    no_table = get_sigmas("karras", 20, sigma_min=0.1, sigma_max=10)
    assert torch.equal(old, no_table)


# --- registry ---------------------------------------------------------------------------------


def test_display_order() -> None:
    # the host's own choice first; the registry's order is the UI's (no hand list to keep)
    assert next(iter(SCHEDULES)) == "automatic"
    assert SCHEDULES["automatic"].label == "Automatic"


def test_entries_describe_themselves() -> None:
    labels = [s.label for s in SCHEDULES.values()]
    assert len(set(labels)) == len(labels)
    for name, s in SCHEDULES.items():
        assert isinstance(s, Schedule)
        assert s.name == name
        assert s.reference in {"WebUI 1.10", "ComfyUI", "WebUI 1.10 and ComfyUI"}
        assert s.description.endswith(".")
        assert not re.search(r"(?<! al)\. ", s.description), "one sentence"
        assert 30 < len(s.description) < 220
        with pytest.raises(dataclasses.FrozenInstanceError):
            s.label = "x"  # type: ignore[misc]
        with pytest.raises(TypeError):
            s.params["new"] = 1  # type: ignore[index]


def test_params_and_defaults() -> None:
    assert dict(SCHEDULES["karras"].params) == {"rho": 7.0}
    assert dict(SCHEDULES["polyexponential"].params) == {"rho": 1.0}
    assert dict(SCHEDULES["beta"].params) == {"alpha": 0.6, "beta": 0.6}
    assert dict(SCHEDULES["beta_comfyui"].params) == {"alpha": 0.6, "beta": 0.6}
    assert dict(SCHEDULES["automatic"].params) == {"sampler": "Euler"}
    assert dict(SCHEDULES["simple"].params) == {}


def test_needs_table_flags_match_behaviour() -> None:
    for name, s in SCHEDULES.items():
        if s.needs_table:
            with pytest.raises(ValueError, match="table"):
                get_sigmas(name, 5, sigma_min=0.03, sigma_max=14.6)
        else:
            kwargs = {"sigma_min": 0.03, "sigma_max": 14.6} if s.needs_range else {}
            assert get_sigmas(name, 5, **kwargs).numel() >= 5


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_labels_and_names_resolve(name: str) -> None:
    s = SCHEDULES[name]
    assert resolve_schedule(name) is s
    assert resolve_schedule(s.label) is s
    assert resolve_schedule(s.label.upper()) is s
    for alias in s.aliases:
        assert resolve_schedule(alias) is s


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("DDIM", "ddim_uniform"),
        ("ddim", "ddim_uniform"),
        ("SGM Uniform", "sgm_uniform"),
        ("SGMUniform", "sgm_uniform"),
        ("KL Optimal", "kl_optimal"),
        ("Align Your Steps", "align_your_steps"),
        ("Beta", "beta"),
        ("Beta (ComfyUI)", "beta_comfyui"),
    ],
)
def test_webui_labels(key: str, name: str) -> None:
    assert resolve_schedule(key).name == name
    table = discrete_sigmas("a1111")
    assert torch.equal(get_sigmas(key, 9, table), get_sigmas(name, 9, table))


# --- errors -----------------------------------------------------------------------------------


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ValueError, match=r"unknown schedule 'karas'.*automatic, simple, normal"):
        get_sigmas("karas", 10, discrete_sigmas())
    with pytest.raises(ValueError, match="must be a string"):
        resolve_schedule(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("steps", [0, -1, 2.5, True, "10", None])
def test_bad_steps(steps: object) -> None:
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        get_sigmas("karras", steps, discrete_sigmas())  # type: ignore[arg-type]


def test_unknown_param_names_the_accepted_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) rhoo; accepted: rho=7.0"):
        get_sigmas("karras", 10, discrete_sigmas(), rhoo=5)
    with pytest.raises(ValueError, match="accepted: none"):
        get_sigmas("simple", 10, discrete_sigmas(), rho=5)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("karras", {"rho": 0}),
        ("polyexponential", {"rho": -1.0}),
        ("beta", {"alpha": 0}),
        ("beta_comfyui", {"beta": math.nan}),
        ("linear_quadratic", {"threshold_noise": 1.5}),
        ("align_your_steps_comfyui", {"denoise": 1.5}),
        ("align_your_steps_comfyui", {"denoise": 0}),
        ("automatic", {"sampler": None}),
    ],
)
def test_bad_param_values(name: str, params: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(params))):
        get_sigmas(name, 10, discrete_sigmas(), **params)


def test_missing_and_bad_range() -> None:
    with pytest.raises(ValueError, match="needs sigma_min and sigma_max"):
        get_sigmas("karras", 10)
    with pytest.raises(ValueError, match="sigma_min must be below sigma_max"):
        get_sigmas("karras", 10, sigma_min=5.0, sigma_max=1.0)
    with pytest.raises(ValueError, match="sigma_min must be a finite number > 0"):
        get_sigmas("exponential", 10, sigma_min=0.0, sigma_max=1.0)


def test_bad_table() -> None:
    with pytest.raises(ValueError, match="ascending"):
        get_sigmas("simple", 10, discrete_sigmas().flip(0))
