"""upscale() where the WebUI differs from a plain call: torch.autocast, kernels that fail
(out of memory, missing half kernels), non-finite values, and bislerp's zero and short vectors."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from latent_upscale import METHODS, interpolation, upscale

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
SETTINGS = settings(max_examples=40, deadline=None)


def randn(shape, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Seeded N(0, 1) CPU tensor."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


# --- torch.autocast ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("size", [(48, 48), (20, 27)], ids=str)
def test_autocast_changes_nothing(method, dtype, size):
    """The WebUI calls us inside torch.autocast (CPU: bfloat16): same bits, same dtype."""
    x = (randn((1, 4, 32, 32), seed=1) * 3).to(dtype)
    outside = upscale(x, size, method)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = upscale(x, size, method)
    assert inside.dtype == dtype
    assert torch.equal(inside, outside)
    with torch.autocast("cpu", dtype=torch.float16):
        assert torch.equal(upscale(x, size, method), outside)


def test_autocast_is_restored_after_the_call():
    a = torch.ones(2, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        upscale(randn((1, 4, 4, 4)), (6, 6), "lanczos")
        assert (a @ a).dtype == torch.bfloat16
    assert (a @ a).dtype == torch.float32


@pytest.mark.filterwarnings("ignore:torch.is_autocast_cpu_enabled:DeprecationWarning")
def test_autocast_off_on_torch_before_2_4(monkeypatch):
    """Before torch 2.4, is_autocast_enabled took no device (CUDA only) and CPU had its own."""

    class OldTorch:
        def __getattr__(self, name):
            return getattr(torch, name)

        @staticmethod
        def is_autocast_enabled():
            return torch.is_autocast_enabled("cuda")

    monkeypatch.setattr(interpolation, "torch", OldTorch())
    x = randn((1, 4, 32, 32), seed=3) * 3
    outside = upscale(x, (48, 48), "lanczos")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(upscale(x, (48, 48), "lanczos"), outside)


@CUDA
@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_cuda_autocast_changes_nothing(method, dtype):
    x = (randn((1, 4, 32, 32), seed=2) * 3).to("cuda", dtype)
    outside = upscale(x, (48, 40), method)
    with torch.autocast("cuda", dtype=torch.float16):
        inside = upscale(x, (48, 40), method)
    assert inside.dtype == dtype
    assert torch.equal(inside, outside)


# --- kernels that fail -------------------------------------------------------------------------

TORCH_METHODS = [name for name, m in METHODS.items() if m.mode is not None]
OUT_OF_MEMORY = getattr(torch, "OutOfMemoryError", None)  # torch >= 2.1


def out_of_memory() -> RuntimeError:
    """What an allocation failure raises (torch < 2.1: a RuntimeError with CUDA's text)."""
    text = "CUDA out of memory. Tried to allocate 2.00 GiB"
    return OUT_OF_MEMORY(text) if OUT_OF_MEMORY else RuntimeError(text)


class FailingInterpolate:
    """Stands in for F.interpolate: raises ``error`` for the dtypes in ``fail``, else runs it."""

    def __init__(self, error: BaseException, fail=DTYPES):
        self.error, self.fail = error, fail
        self.calls: list[torch.dtype] = []
        self.real = torch.nn.functional.interpolate

    def __call__(self, x, *args, **kwargs):
        self.calls.append(x.dtype)
        if x.dtype in self.fail:
            raise self.error
        return self.real(x, *args, **kwargs)


@pytest.mark.parametrize("method", TORCH_METHODS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(
    "error",
    [
        out_of_memory(),
        RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB"),
        RuntimeError("CUDA error: an illegal memory access was encountered"),
        NotImplementedError("\"upsample_bilinear2d_out_frame\" not implemented for 'Float'"),
        NotImplementedError(
            "The operator 'aten::_upsample_bicubic2d_aa.out' is not currently implemented for"
            " the MPS device."
        ),
    ],
    ids=["OutOfMemoryError", "oom-text", "cuda-error", "float-kernel", "mps-missing-op"],
)
def test_other_kernel_errors_reach_the_caller_unchanged(monkeypatch, method, dtype, error):
    """Only a missing half kernel is retried; an out-of-memory error (a RuntimeError) is not
    hidden behind a float32 retry or a silent move to the CPU."""
    fake = FailingInterpolate(error)
    monkeypatch.setattr(torch.nn.functional, "interpolate", fake)
    with pytest.raises(type(error)) as caught:
        upscale(randn((1, 4, 5, 6), dtype=dtype), (9, 4), method)
    assert caught.value is error
    assert len(fake.calls) == 1


@pytest.mark.parametrize("method", TORCH_METHODS)
@pytest.mark.parametrize("half", [torch.float16, torch.bfloat16], ids=str)
def test_missing_half_kernel_runs_in_float32(monkeypatch, method, half):
    """'... not implemented for 'Half'' (or 'BFloat16'): the same call in float32, cast back."""
    name = {torch.float16: "Half", torch.bfloat16: "BFloat16"}[half]
    x = randn((2, 4, 5, 6), seed=4, dtype=half)
    expected = upscale(x.float(), (9, 4), method).to(half)
    error = NotImplementedError(f"\"upsample_kernel\" not implemented for '{name}'")
    fake = FailingInterpolate(error, fail=(half,))
    monkeypatch.setattr(torch.nn.functional, "interpolate", fake)
    out = upscale(x, (9, 4), method)
    assert out.dtype == half
    assert torch.equal(out, expected)
    assert fake.calls[-1] == torch.float32


def test_missing_half_kernel_then_float32_failure_is_raised(monkeypatch):
    """The float32 retry runs once on the same device; if it fails too, that error is raised."""
    oom = out_of_memory()

    def fake(x, *args, **kwargs):
        if x.dtype == torch.float16:
            raise NotImplementedError("\"upsample_nearest2d\" not implemented for 'Half'")
        raise oom

    monkeypatch.setattr(torch.nn.functional, "interpolate", fake)
    with pytest.raises(type(oom)) as caught:
        upscale(randn((1, 4, 5, 6), dtype=torch.float16), (9, 4), "nearest")
    assert caught.value is oom


# --- bislerp: zero and short vectors ----------------------------------------------------------


def unit_pair(c: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two float64 unit vectors at a generic angle (far from ComfyUI's parallel/opposite cases)."""
    g = torch.Generator().manual_seed(seed)
    while True:
        d1, d2 = torch.randn(2, c, generator=g, dtype=torch.float64)
        d1, d2 = d1 / d1.norm(), d2 / d2.norm()
        if abs(float(d1 @ d2)) < 0.9:
            return d1, d2


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("c", [2, 4, 16])
@pytest.mark.parametrize("left_short", [True, False])
def test_bislerp_is_continuous_as_a_vector_shrinks(dtype, c, left_short):
    """A vector shrinking smoothly next to a unit vector: no jump anywhere (the old rule
    switched to a linear blend below 64 eps of the neighbour's norm)."""
    d1, d2 = unit_pair(c, seed=c)
    eps = torch.finfo(dtype).eps
    scales = [64 * eps * 1.05**k for k in range(200, -200, -1)]  # 64 eps·(2e4 ... 6e-5)
    outs = []
    for s in scales:
        pair = (s * d1, d2) if left_short else (d2, s * d1)
        x = torch.stack(pair, dim=-1).reshape(1, c, 1, 2).to(dtype)
        outs.append(upscale(x, (1, 8), "bislerp").double())
    steps = torch.stack([(b - a).abs().max() for a, b in itertools.pairwise(outs)])
    # the output moves with the short vector: at most ~its change in length per step
    bound = torch.tensor([s * 0.05 for s in scales[:-1]], dtype=torch.float64) + 20 * eps
    assert (steps <= bound).all(), float((steps - bound).max())


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("zero_left", [True, False])
def test_bislerp_zero_vector_is_at_a_right_angle(dtype, zero_left):
    """ComfyUI normalises a zero vector to 0, so its cosine with b is 0: slerp over a right
    angle with the norm blended linearly gives r·sin(r·π/2)·b for a zero left neighbour and
    (1 - r)·sin((1 - r)·π/2)·b for a zero right one (not the linear blend r·b)."""
    _, d = unit_pair(4, seed=7)
    b = 2 * d
    pair = (torch.zeros(4, dtype=torch.float64), b) if zero_left else (b, torch.zeros(4))
    x = torch.stack(pair, dim=-1).reshape(1, 4, 1, 2)
    out = upscale(x.to(dtype), (1, 8), "bislerp").double()[0, :, 0]
    ramp = torch.arange(2, dtype=torch.float32).reshape(1, 1, 1, 2)
    pos = torch.nn.functional.interpolate(ramp, size=(1, 8), mode="bilinear").flatten().double()
    atol = {torch.float16: 4e-3, torch.bfloat16: 3e-2}.get(dtype, 1e-6)
    for j, p in enumerate(pos.tolist()):
        k, r = int(p), p - math.floor(p)
        if k == 1:  # the last input column: copied
            expected = pair[1]
        elif zero_left:
            expected = r * math.sin(r * math.pi / 2) * b
        else:
            expected = (1 - r) * math.sin((1 - r) * math.pi / 2) * b
        torch.testing.assert_close(out[:, j], expected.double(), atol=atol, rtol=0.02)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("size", [(8, 8), (7, 13), (2, 3)], ids=str)
def test_bislerp_zero_vectors_give_finite_results(dtype, size):
    """All-zero latents, zero rows and columns, zeros beside huge and tiny vectors."""
    x = randn((2, 4, 4, 5), seed=8) * 3
    x[0] = 0  # an all-zero latent
    x[1, :, 1] = 0  # a zero row
    x[1, :, :, 2] = 0  # a zero column
    x[1, :, 3, 4] = 1e4  # large next to zero
    x[1, :, 0, 0] = 1e-20  # below the norm floor (float32)
    out = upscale(x.to(dtype), size, "bislerp")
    assert torch.isfinite(out).all()
    assert (out[0] == 0).all()


# --- NaN and infinity stay local ---------------------------------------------------------------

# Input pixels an output can depend on, per axis: |source - centre| <= TAPS·max(scale, 1) + 1,
# with centre = (i + 0.5)·scale - 0.5 and scale = n_in/n_out (a generous bound for every
# method: nearest/area/bilinear 1 tap to each side, bicubic 2, lanczos 3, bislerp's pair 2).
TAPS = {"nearest": 1, "nearest-exact": 1, "bilinear": 1, "bilinear-antialiased": 1,
        "bicubic": 2, "bicubic-antialiased": 2, "area": 1, "bislerp": 2, "lanczos": 3}  # fmt: skip
LOCAL_TAPS = 3  # a method added later is held to the widest footprint here (lanczos-3)


def far_from(source: int, n_in: int, n_out: int, taps: int) -> torch.Tensor:
    """Which of the n_out outputs along an axis cannot see input ``source``."""
    scale = n_in / n_out
    centre = (torch.arange(n_out, dtype=torch.float64) + 0.5) * scale - 0.5
    return (centre - source).abs() > taps * max(scale, 1.0) + 1


def test_taps_name_registry_methods():
    assert set(TAPS) <= set(METHODS)  # a new method without an entry gets LOCAL_TAPS


@pytest.mark.parametrize("method", list(METHODS))
@settings(max_examples=30, deadline=None)
@given(shape=st.tuples(st.integers(1, 2), st.sampled_from([1, 4, 5]), st.integers(1, 14),
                       st.integers(1, 14)),
       size=st.tuples(st.integers(1, 20), st.integers(1, 20)), seed=st.integers(0, 2**16),
       where=st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(0, 99),
                       st.integers(0, 99)),
       value=st.sampled_from([math.nan, math.inf, -math.inf]),
       dtype=st.sampled_from(DTYPES))  # fmt: skip
def test_a_non_finite_value_stays_local(method, shape, size, seed, where, value, dtype):
    """One NaN or ±inf affects only outputs whose taps can include it: every other output is
    what it would be with a 0 in its place (torch's own modes behave so; lanczos's matmul used
    to spread a NaN over its whole channel)."""
    # torch's antialias kernels read wrong taps for an output width of 1 when the height
    # changes (their values are off there too: see test_lanczos_follows_pillow_where_torch_does_not)
    assume(not (METHODS[method].antialias and size[1] == 1 and size[0] != shape[2]))
    b, c, h, w = (k % n for k, n in zip(where, shape, strict=True))
    x = (randn(shape, seed) * 2).to(dtype)
    bad, zero = x.clone(), x.clone()
    bad[b, c, h, w] = value
    zero[b, c, h, w] = 0
    out, ref = upscale(bad, size, method), upscale(zero, size, method)
    taps = TAPS.get(method, LOCAL_TAPS)
    far = far_from(h, shape[2], size[0], taps)[:, None] | far_from(w, shape[3], size[1], taps)
    assert torch.equal(out[..., far], ref[..., far])
    assert torch.equal(out[:b], ref[:b])
    assert torch.equal(out[b + 1 :], ref[b + 1 :])
    if method != "bislerp":  # bislerp mixes the channels of a pixel; the others never do
        others = [k for k in range(shape[1]) if k != c]
        assert torch.equal(out[:, others], ref[:, others])


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=str)
@pytest.mark.parametrize(("hw", "size", "at"), [((9, 11), (20, 16), (4, 6)),
                                                ((16, 12), (5, 7), (9, 0))], ids=str)  # fmt: skip
def test_lanczos_non_finite_reaches_exactly_its_taps(dtype, value, hw, size, at):
    """Outputs with a nonzero weight on the bad pixel (row weight × column weight) get NaN, or
    ±inf with the sign of value × weight; all other outputs stay finite."""
    x = (randn((1, 4, *hw), seed=9) * 2).to(dtype)
    x[0, 1, at[0], at[1]] = value
    out = upscale(x, size, "lanczos")[0].double()
    weight = (
        interpolation.lanczos_weights(hw[0], size[0])[:, at[0], None]
        * (interpolation.lanczos_weights(hw[1], size[1])[:, at[1]])
    )
    hit = weight != 0
    assert hit.any()
    assert hit.logical_not().any()
    assert torch.isfinite(out[[0, 2, 3]]).all()
    assert torch.isfinite(out[1][~hit]).all()
    if math.isnan(value):
        assert out[1][hit].isnan().all()
    else:
        assert torch.equal(out[1][hit], (weight[hit].sign() * value))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_bislerp_keeps_comfyui_special_pairs_beside_a_non_finite_value(dtype, bad):
    """A NaN elsewhere in the latent changes nothing about ComfyUI's parallel rule (the left
    vector is kept) or its opposite rule (linear blend) for other pairs."""
    v = torch.tensor([1.0, -2.0, 0.5, 3.0])
    columns = [v, 2 * v, -v, torch.ones(4), torch.ones(4)]
    x = torch.stack(columns, dim=-1).reshape(1, 4, 1, 5).repeat(1, 1, 3, 1).to(dtype)
    x[0, 2, 2, 4] = bad  # far corner
    out = upscale(x, (3, 10), "bislerp").double()
    assert torch.isfinite(out[:, :, :2]).all()
    # 2x: outputs 1, 2 blend pair (v, 2v) at r = 1/4, 3/4: parallel, so v is kept
    for j in (1, 2):
        assert torch.equal(out[0, :, 0, j], x[0, :, 0, 0].double())
    # outputs 3, 4 blend (2v, -v) at r = 1/4, 3/4: opposite, so (1 - r)·2v + r·(-v)
    for j, r in ((3, 0.25), (4, 0.75)):
        expected = ((1 - r) * 2 * v + r * -v).to(dtype).double()
        torch.testing.assert_close(out[0, :, 0, j], expected, atol=2e-2, rtol=1e-2)


def test_lanczos_huge_finite_values_stay_finite():
    """Values whose sum overflows float32 are still finite: the result is the plain filter."""
    x = torch.full((1, 4, 32, 32), 1e38) * (1 + 0.01 * randn((1, 4, 32, 32), seed=10))
    assert not torch.isfinite(x.sum())
    out = upscale(x, (48, 40), "lanczos")
    assert torch.isfinite(out).all()
    ref = upscale(x.double(), (48, 40), "lanczos")
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=0)
