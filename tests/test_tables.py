"""SD discrete sigma tables and the k-diffusion / ComfyUI timestep <-> sigma mapping."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from latent_upscale.tables import TABLE_KINDS, as_table, discrete_sigmas, sigma_to_t, t_to_sigma
from tests import golden

GOLDEN_KEYS = {"a1111": "a1111_f32", "comfyui": "comfy_f32", "float64": "float64"}
DTYPES = {
    "a1111": torch.float32,
    "comfyui": torch.float32,
    "float64": torch.float64,
    "a1111_fp16": torch.float16,
}


def ulps_apart(ours: torch.Tensor, expected: torch.Tensor) -> torch.Tensor:
    """Distance in units in the last place of ``ours``'s dtype."""
    ref = expected.to(ours.dtype)
    ulp = torch.nextafter(ref, torch.full_like(ref, math.inf)) - ref
    return ((ours - ref).abs() / ulp).double()


@pytest.mark.parametrize("kind", list(GOLDEN_KEYS))
def test_table_equals_reference_to_one_ulp(kind: str) -> None:
    # Bit-exact with the reference run's torch 2.13 / numpy 2.4 (x86-64); other builds differ
    # in the last bit (torch 2.11 / numpy 2.5: 171 float32 A1111 entries, 15 float64 ones)
    ref = golden.load("sigmas.json")["meta"]["tables"][GOLDEN_KEYS[kind]]
    ours = discrete_sigmas(kind)
    expected = torch.tensor(ref["sigmas"], dtype=torch.float64)
    assert ours.shape == (1000,)
    assert float(ulps_apart(ours, expected).max()) <= 1.0
    assert ours[0].item() == pytest.approx(ref["sigma_min"], rel=2.4e-7)
    assert ours[-1].item() == pytest.approx(ref["sigma_max"], rel=2.4e-7)


def test_fp16_table_ends_match_reference() -> None:
    ref = golden.load("sigmas.json")["meta"]["tables"]["a1111_downcast_f16"]
    ours = discrete_sigmas("a1111_fp16")
    assert ours[0].item() == ref["sigma_min"]
    assert ours[-1].item() == ref["sigma_max"]


def test_a1111_and_comfyui_tables_differ_where_the_doc_says() -> None:
    # float32 ``1 - ac`` loses digits near ac = 0.99915: largest relative gap 1.29e-5, at t = 0
    a1111, comfy = discrete_sigmas("a1111").double(), discrete_sigmas("comfyui").double()
    gap = (a1111 - comfy).abs() / comfy
    assert int(gap.argmax()) == 0
    assert float(gap.max()) == pytest.approx(1.29e-5, rel=0.01)
    assert float(gap[500:].max()) < 1e-6


@pytest.mark.parametrize("kind", list(TABLE_KINDS))
def test_table_shape_dtype_device_and_order(kind: str) -> None:
    table = discrete_sigmas(kind)
    assert table.dtype == DTYPES[kind]
    assert table.device.type == "cpu"
    assert table.shape == (1000,)
    assert bool((table[1:] >= table[:-1]).all())
    assert 0.02 < table[0].item() < 0.04
    assert 14.5 < table[-1].item() < 14.7


def test_float64_table_matches_closed_form() -> None:
    # sigma_i = sqrt((1 - prod(1 - beta_j)) / prod(1 - beta_j)), betas from the doc's formula
    lo, hi = math.sqrt(0.00085), math.sqrt(0.012)
    prod = 1.0
    table = discrete_sigmas("float64").tolist()
    for i in range(1000):
        prod *= 1 - (lo + i * (hi - lo) / 999) ** 2
        if i in (0, 1, 500, 998, 999):
            assert table[i] == pytest.approx(math.sqrt((1 - prod) / prod), rel=1e-12)


def test_unknown_kind_lists_valid_kinds() -> None:
    with pytest.raises(ValueError, match="a1111, comfyui, float64, a1111_fp16"):
        discrete_sigmas("sd15")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (torch.arange(10), "floating point"),
        (torch.ones(2, 3), "1-D"),
        (torch.tensor([1.0]), "at least 2"),
        (torch.tensor([2.0, 1.0]), "ascending"),
        (torch.tensor([0.0, 1.0]), "> 0"),
        (torch.tensor([1.0, math.inf]), "finite"),
    ],
)
def test_as_table_rejects_bad_tables(bad: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        as_table(bad)


def test_as_table_moves_to_cpu_and_keeps_dtype() -> None:
    table = as_table(discrete_sigmas("float64"))
    assert table.dtype == torch.float64
    assert as_table([0.1, 0.2, 0.3]).tolist() == pytest.approx([0.1, 0.2, 0.3])


def _reference_table(key: str) -> torch.Tensor:
    """A table exactly as the reference run computed it (independent of this build's rounding)."""
    return torch.tensor(golden.load("sigmas.json")["meta"]["tables"][key]["sigmas"]).float()


def test_timestep_mapping_is_bit_exact_with_k_diffusion() -> None:
    # k-diffusion DiscreteSchedule on the A1111 float32 table: our mapping on the same table
    # gives the same float32 numbers, bit for bit
    table = _reference_table("a1111_f32")
    (case,) = golden.cases("sigmas.json", schedule="DiscreteSchedule.t_to_sigma")
    assert t_to_sigma(case["params"]["t_in"], table).tolist() == case["output"]
    for quantize in (False, True):
        (case,) = golden.cases(
            "sigmas.json", schedule=f"DiscreteSchedule.sigma_to_t[quantize={quantize}]"
        )
        sigma = torch.tensor(case["params"]["sigma_in"])
        assert sigma_to_t(sigma, table, quantize=quantize).float().tolist() == case["output"]


def test_comfyui_timestep_mapping_matches_model_sampling() -> None:
    table = _reference_table("comfy_f32")
    (case,) = golden.cases("sigmas.json", schedule="ModelSamplingDiscrete.sigma")
    ours = t_to_sigma(case["params"]["t_in"], table, clamp=True).tolist()
    assert ours == pytest.approx(case["output"], rel=2.4e-7)  # ComfyUI: within one float32 ulp
    (case,) = golden.cases("sigmas.json", schedule="ModelSamplingDiscrete.timestep")
    sigma = torch.tensor(case["params"]["sigma_in"])
    assert sigma_to_t(sigma, table, quantize=True).tolist() == case["output"]


def test_integer_timesteps_land_on_the_table() -> None:
    table = discrete_sigmas("a1111")
    ours = t_to_sigma(torch.arange(1000), table)
    # the doc's example: t = 999 gives 14.614643096923828, one float32 ulp above the entry
    # (the log-linear mapping goes through exp(log(sigma)))
    assert t_to_sigma(999, _reference_table("a1111_f32")).item() == 14.614643096923828
    assert torch.allclose(ours, table, rtol=2e-7, atol=0)  # exp(log) costs a float32 ulp or two


def test_out_of_range_timesteps() -> None:
    table = discrete_sigmas("comfyui")
    with pytest.raises(ValueError, match="out of range"):
        t_to_sigma(1000.0, table)
    with pytest.raises(ValueError, match="out of range"):
        t_to_sigma(-0.5, table)
    # ComfyUI clamps t to [0, 999]: the ends of the table (within one float32 ulp)
    clamped = t_to_sigma([-3.0, 1200.0], table, clamp=True)
    assert clamped.tolist() == pytest.approx([table[0].item(), table[-1].item()], rel=2.4e-7)


def test_sigma_to_t_clamps_outside_the_table() -> None:
    table = discrete_sigmas("a1111")
    assert sigma_to_t(torch.tensor([20.0, 0.01]), table).tolist() == [999.0, 0.0]


def test_sigma_to_t_of_table_ends_is_exact() -> None:
    for kind in ("a1111", "comfyui", "a1111_fp16"):
        table = discrete_sigmas(kind)
        ends = torch.tensor([table[-1].item(), table[0].item()])
        assert sigma_to_t(ends, table).tolist() == [999.0, 0.0]


@settings(max_examples=60, deadline=None)
@given(
    t=st.floats(0, 999, allow_nan=False),
    kind=st.sampled_from(["a1111", "comfyui", "float64"]),
)
def test_sigma_to_t_inverts_t_to_sigma(t: float, kind: str) -> None:
    table = discrete_sigmas(kind)
    sigma = t_to_sigma(t, table)
    back = sigma_to_t(sigma, table).item()
    assert back == pytest.approx(t, abs=2e-3)
    assert sigma_to_t(sigma, table, quantize=True).item() == pytest.approx(t, abs=0.5 + 2e-3)


@settings(max_examples=40, deadline=None)
@given(
    a=st.floats(0, 999, allow_nan=False),
    b=st.floats(0, 999, allow_nan=False),
)
def test_t_to_sigma_is_monotonic(a: float, b: float) -> None:
    table = discrete_sigmas("a1111")
    lo, hi = sorted((a, b))
    assert t_to_sigma(lo, table).item() <= t_to_sigma(hi, table).item()


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 3000), scale=st.floats(0.5, 200))
def test_mapping_on_tables_of_any_length(n: int, scale: float) -> None:
    # non-SD tables, e.g. flow-model sigmas in (0, 1] or longer/shorter tables
    table = torch.linspace(1 / n, 1.0, n) * scale
    assert sigma_to_t(table[-1:].clone(), table).item() == n - 1
    assert sigma_to_t(table[:1].clone(), table).item() == 0
    assert t_to_sigma(float(n - 1), table).item() == pytest.approx(table[-1].item(), rel=1e-6)


def test_bfloat16_tables_are_computed_in_float32() -> None:
    table = discrete_sigmas("a1111")
    assert as_table(table.to(torch.bfloat16)).dtype == torch.float32
    assert as_table(table.half()).dtype == torch.float16  # kept: hosts computed in it


def test_repeated_entries_do_not_give_nan() -> None:
    # k-diffusion divides 0 by 0 between equal neighbours; we take the lower index's timestep
    table = torch.tensor([0.1, 0.5, 0.5, 0.5, 2.0])
    t = sigma_to_t(torch.tensor([0.5, 0.3, 1.0]), table)
    assert torch.isfinite(t).all()
    assert t_to_sigma(t, table).tolist() == pytest.approx([0.5, 0.3, 1.0], rel=1e-6)


def test_nan_timestep_is_rejected() -> None:
    with pytest.raises(ValueError, match="finite"):
        t_to_sigma(math.nan, discrete_sigmas(), clamp=True)
