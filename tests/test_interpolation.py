"""upscale(): torch modes against torch itself, bislerp against a naive reference and its
properties, lanczos against Pillow and torch's own lanczos, dtypes, devices and errors."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from latent_upscale import METHODS, interpolation, upscale
from latent_upscale.interpolation import Method, lanczos_weights

ORDER = list(METHODS)  # the registry, in display order
TORCH_METHODS = [name for name, m in METHODS.items() if m.mode is not None]
DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
HALF = (torch.float16, torch.bfloat16)
# (input H, W) -> (output H, W): up, down, odd, from 1x1, to 1x1, mixed
SIZES = [((5, 7), (10, 14)), ((8, 8), (3, 5)), ((5, 7), (11, 13)), ((1, 1), (3, 2)),
         ((6, 4), (1, 1)), ((4, 9), (7, 4))]  # fmt: skip
SHAPES = [(1, 4), (2, 16)]  # (B, C)
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
SETTINGS = settings(max_examples=30, deadline=None)


def randn(shape, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Seeded N(0, 1) CPU tensor."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


def torch_direct(x: torch.Tensor, size, method: str) -> torch.Tensor:
    """What the method promises to equal: torch's interpolate (float32 for CPU half + antialias)."""
    m = METHODS[method]
    align = False if m.mode in ("bilinear", "bicubic") else None
    if m.antialias and x.dtype in HALF and x.device.type == "cpu":
        y = F.interpolate(x.float(), size=size, mode=m.mode, align_corners=align, antialias=True)
        return y.to(x.dtype)
    return F.interpolate(x, size=size, mode=m.mode, align_corners=align, antialias=m.antialias)


def has_torch_lanczos() -> bool:
    """Whether this torch has interpolate(mode='lanczos') (torch 2.13+, CPU)."""
    try:
        F.interpolate(torch.zeros(1, 1, 2, 2), size=(3, 3), mode="lanczos", antialias=True)
    except (ValueError, RuntimeError, NotImplementedError):
        return False
    return True


TORCH_LANCZOS = pytest.mark.skipif(not has_torch_lanczos(), reason="torch lacks mode='lanczos'")


def tolerance(dtype: torch.dtype) -> float:
    """Absolute tolerance for N(0, 1)-sized values computed in ``dtype``."""
    return {torch.float16: 4e-3, torch.bfloat16: 3e-2, torch.float32: 1e-5}.get(dtype, 1e-10)


# --- registry ---------------------------------------------------------------------------


def test_methods_are_keyed_by_their_names():
    assert [m.name for m in METHODS.values()] == ORDER


def test_method_records_are_frozen_and_documented():
    labels = set()
    for name, m in METHODS.items():
        assert isinstance(m, Method)
        assert m.label
        assert m.label not in labels
        labels.add(m.label)
        assert m.description.endswith(".")
        assert m.description.count(". ") == 0
        assert 20 < len(m.description) < 160, name
        with pytest.raises(dataclasses.FrozenInstanceError):
            m.label = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        METHODS["new"] = METHODS["bilinear"]  # type: ignore[index]


def test_torch_modes_and_antialias_flags():
    modes = {n: (m.mode, m.antialias) for n, m in METHODS.items()}
    assert modes["bilinear-antialiased"] == ("bilinear", True)
    assert modes["bicubic-antialiased"] == ("bicubic", True)
    assert modes["nearest-exact"] == ("nearest-exact", False)
    assert modes["bislerp"][0] is None
    assert modes["lanczos"][0] is None


# --- torch modes: exactly torch -------------------------------------------------------------


@pytest.mark.parametrize("method", TORCH_METHODS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(("hw", "size"), SIZES, ids=str)
@pytest.mark.parametrize(("b", "c"), SHAPES, ids=str)
def test_torch_modes_equal_torch(method, dtype, hw, size, b, c):
    x = randn((b, c, *hw), seed=b + c, dtype=dtype)
    out = upscale(x, size, method)
    assert out.dtype == dtype
    assert out.shape == (b, c, *size)
    assert torch.equal(out, torch_direct(x, size, method))
    if dtype in HALF:  # the half result is the float32 result, rounded
        ref = torch_direct(x.float(), size, method)
        torch.testing.assert_close(out.float(), ref, atol=tolerance(dtype) * 4, rtol=0.02)


# --- properties of every method ------------------------------------------------------------

shape_st = st.tuples(st.integers(1, 2), st.sampled_from([1, 3, 4, 16]), st.integers(1, 9),
                     st.integers(1, 9))  # fmt: skip
size_st = st.tuples(st.integers(1, 13), st.integers(1, 13))


@SETTINGS
@given(method=st.sampled_from(ORDER), shape=shape_st, size=size_st, seed=st.integers(0, 2**16),
       dtype=st.sampled_from(DTYPES))  # fmt: skip
def test_constant_latent_stays_constant(method, shape, size, seed, dtype):
    b, c = shape[:2]
    vector = randn((b, c, 1, 1), seed) * 3
    x = vector.expand(shape).to(dtype)
    out = upscale(x, size, method)
    expected = vector.to(dtype).double().expand(b, c, *size)
    torch.testing.assert_close(out.double(), expected, atol=tolerance(dtype) * 4, rtol=1e-3)


@SETTINGS
@given(method=st.sampled_from(ORDER), shape=shape_st, seed=st.integers(0, 2**16),
       dtype=st.sampled_from(DTYPES))  # fmt: skip
def test_same_size_is_an_identity_copy(method, shape, seed, dtype):
    x = randn(shape, seed, dtype)
    out = upscale(x, shape[2:], method)
    assert torch.equal(out, x)
    assert out is not x
    assert out.data_ptr() != x.data_ptr()


@SETTINGS
@given(method=st.sampled_from(ORDER), shape=shape_st, size=size_st, seed=st.integers(0, 2**16),
       dtype=st.sampled_from(DTYPES), scale=st.sampled_from([1e-3, 1.0, 50.0]))  # fmt: skip
def test_shape_dtype_device_kept_and_output_finite(method, shape, size, seed, dtype, scale):
    x = (randn(shape, seed) * scale).to(dtype)
    out = upscale(x, size, method)
    assert out.shape == (*shape[:2], *size)
    assert out.dtype == dtype
    assert out.device == x.device
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("method", ORDER)
@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_half_precision_close_to_float32(method, dtype):
    x = randn((2, 4, 6, 7), seed=3)
    out = upscale(x.to(dtype), (11, 5), method)
    ref = upscale(x.to(dtype).float(), (11, 5), method)
    assert out.dtype == dtype
    torch.testing.assert_close(out.float(), ref, atol=tolerance(dtype) * 8, rtol=0.02)


@pytest.mark.parametrize("method", ORDER)
def test_float64_stays_float64_and_is_more_precise(method):
    x = randn((1, 4, 5, 6), seed=4, dtype=torch.float64)
    out = upscale(x, (9, 13), method)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out.float(), upscale(x.float(), (9, 13), method), atol=1e-5, rtol=0)


@pytest.mark.parametrize("method", ORDER)
def test_empty_batch_and_non_contiguous_input(method):
    assert upscale(torch.zeros(0, 4, 3, 3), (5, 6), method).shape == (0, 4, 5, 6)
    x = randn((1, 4, 6, 5), seed=5)
    xt = x.transpose(2, 3).contiguous().transpose(2, 3)  # same values, other strides
    torch.testing.assert_close(upscale(xt, (9, 7), method), upscale(x, (9, 7), method))


@pytest.mark.parametrize("method", ORDER)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("size", [(12, 10), (7, 9), (6, 5)], ids=str)
def test_input_is_never_written(method, dtype, size):
    """The caller's latent keeps its values, whatever the scale (phased, gathered, same size),
    with ComfyUI's special pairs, and for a non-contiguous view as well."""
    x = special_vectors((2, 4, 6, 5), seed=11).to(dtype)
    for latent in (x, x.transpose(2, 3).contiguous().transpose(2, 3)):
        before = latent.clone()
        upscale(latent, size, method)
        assert torch.equal(latent, before)


@pytest.mark.parametrize("method", ORDER)
def test_input_that_requires_grad(method):
    x = randn((1, 4, 5, 6), seed=6).requires_grad_()
    out = upscale(x, (9, 4), method)
    torch.testing.assert_close(out.detach(), upscale(x.detach(), (9, 4), method))


# --- errors ---------------------------------------------------------------------------------


def test_unknown_method_lists_the_valid_names():
    with pytest.raises(ValueError, match="unknown method 'linear'.*" + ", ".join(ORDER)):
        upscale(torch.zeros(1, 4, 2, 2), (3, 3), "linear")
    for bad in ("Bilinear", "", None, 3):
        with pytest.raises(ValueError, match="valid methods"):
            upscale(torch.zeros(1, 4, 2, 2), (3, 3), bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "size", [(0, 3), (3, 0), (-1, 4), (2.0, 3), (True, 3), (3,), (2, 3, 4), "ab", 4, None]
)
def test_bad_size(size):
    with pytest.raises(ValueError, match=r"size must be \(height, width\): two integers >= 1"):
        upscale(torch.zeros(1, 4, 2, 2), size, "bilinear")  # type: ignore[arg-type]


def test_integer_like_sizes_are_accepted():
    out = upscale(torch.zeros(1, 4, 2, 2), [np.int64(3), torch.Size([5])[0]], "bilinear")
    assert out.shape == (1, 4, 3, 5)


@pytest.mark.parametrize(
    ("latent", "match"),
    [
        (torch.zeros(4, 2, 2), "4-D"),
        (torch.zeros(1, 1, 4, 2, 2), "4-D"),
        (torch.zeros(1, 4, 2, 2, dtype=torch.int64), "floating point"),
        (torch.zeros(1, 4, 2, 2, dtype=torch.bool), "floating point"),
        (torch.zeros(1, 4, 2, 2, dtype=torch.complex64), "floating point"),
        (torch.zeros(1, 4, 0, 2), "height and width"),
        ([[[[0.0]]]], "torch.Tensor"),
    ],
    ids=str,
)
@pytest.mark.parametrize("method", ["bilinear", "bislerp", "lanczos"])
def test_bad_latent(latent, match, method):
    with pytest.raises(ValueError, match=match):
        upscale(latent, (3, 3), method)


# --- bislerp ---------------------------------------------------------------------------------


def comfy_positions(n_in: int, n_out: int) -> list[float]:
    """ComfyUI's sample positions: its float32 index ramp resized bilinearly (align_corners off)."""
    ramp = torch.arange(n_in, dtype=torch.float32).reshape(1, 1, 1, n_in)
    return F.interpolate(ramp, size=(1, n_out), mode="bilinear").flatten().double().tolist()


def slerp_reference(b1: np.ndarray, b2: np.ndarray, r: float, eps: float = 0.0) -> np.ndarray:
    """ComfyUI's slerp of two channel vectors, written out plainly (doc section 3.2).

    A zero vector's unit vector is 0 (so cos = 0: a right angle). ``eps`` emulates the working
    precision's norm floor: a vector shorter than eps is divided by eps instead of its norm.
    """
    n1, n2 = np.linalg.norm(b1), np.linalg.norm(b2)
    u1, u2 = b1 / max(n1, eps or 1e-300), b2 / max(n2, eps or 1e-300)
    if n1 == 0:
        u1 = np.zeros_like(b1)
    if n2 == 0:
        u2 = np.zeros_like(b2)
    d = float(np.dot(u1, u2))
    if d > 1 - 1e-5:
        return b1  # ComfyUI keeps the left vector (the golden files depend on it)
    if d < -1 + 1e-5:
        return (1 - r) * b1 + r * b2
    omega = math.acos(max(-1.0, min(1.0, d)))
    direction = math.sin((1 - r) * omega) * u1 + math.sin(r * omega) * u2
    return direction / math.sin(omega) * ((1 - r) * max(n1, eps) + r * max(n2, eps))


def bislerp_reference(x: torch.Tensor, size, work: torch.dtype = torch.float64) -> torch.Tensor:
    """Naive float64 bislerp: width pass, then height pass, one output pixel at a time.

    ``work``: the dtype bislerp computes in, whose norm floor the reference emulates."""
    eps = math.sqrt(torch.finfo(work).tiny)
    a = x.double().numpy()
    for axis, n_out in ((3, size[1]), (2, size[0])):
        n_in = a.shape[axis]
        moved = np.moveaxis(a, axis, -1)  # [B, C, other, n_in]
        out = np.empty((*moved.shape[:-1], n_out))
        for j, pos in enumerate(comfy_positions(n_in, n_out)):
            k = int(pos)
            k2, r = min(k + 1, n_in - 1), pos - math.floor(pos)
            for b in range(moved.shape[0]):
                for o in range(moved.shape[2]):
                    out[b, :, o, j] = slerp_reference(moved[b, :, o, k], moved[b, :, o, k2], r, eps)
        a = np.moveaxis(out, -1, axis)
    return torch.from_numpy(np.ascontiguousarray(a))


def special_vectors(shape, seed: int) -> torch.Tensor:
    """Random vectors where some pixels are zero, equal, opposite or parallel to their left."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    kind = torch.randint(0, 6, (shape[0], shape[2], shape[3]), generator=g)
    for w in range(shape[3]):
        for b in range(shape[0]):
            for h in range(shape[2]):
                left = x[b, :, h, w - 1] if w else x[b, :, h, w]
                choice = int(kind[b, h, w])
                if choice == 1:
                    x[b, :, h, w] = 0
                elif choice == 2:
                    x[b, :, h, w] = left
                elif choice == 3:
                    x[b, :, h, w] = -left
                elif choice == 4:
                    x[b, :, h, w] = 2.5 * left
    return x


@SETTINGS
@given(shape=st.tuples(st.integers(1, 2), st.sampled_from([1, 2, 4, 16]), st.integers(1, 5),
                       st.integers(1, 5)),
       size=st.tuples(st.integers(1, 9), st.integers(1, 9)), seed=st.integers(0, 2**16),
       special=st.booleans())  # fmt: skip
def test_bislerp_matches_naive_reference(shape, size, seed, special):
    x = special_vectors(shape, seed) if special else randn(shape, seed, torch.float64)
    out = upscale(x, size, "bislerp")
    torch.testing.assert_close(out, bislerp_reference(x, size), atol=1e-9, rtol=1e-9)
    out32 = upscale(x.float(), size, "bislerp")
    assert torch.isfinite(out32).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_bislerp_zero_equal_and_opposite_vectors(dtype):
    v = torch.tensor([1.0, -2.0, 0.5, 3.0])
    columns = [torch.zeros(4), v, v, -v, torch.zeros(4), torch.zeros(4), v * 1e-30]
    x = torch.stack(columns, dim=-1).reshape(1, 4, 1, len(columns)).to(dtype)
    size = (3, 4 * len(columns))
    out = upscale(x, size, "bislerp")
    assert torch.isfinite(out).all()
    assert out.dtype == dtype
    work = torch.float64 if dtype == torch.float64 else torch.float32
    ref = bislerp_reference(x.double(), size, work)
    torch.testing.assert_close(out.double(), ref, atol=tolerance(dtype) * 20, rtol=0.02)
    # zero next to v (ComfyUI: the zero vector's unit vector is 0, a right angle from v):
    # sin(r·π/2) · v/|v| · r|v| = r·sin(r·π/2)·v; v next to -v blends linearly (ComfyUI)
    for j, pos in enumerate(comfy_positions(len(columns), size[1])):
        k, r = int(pos), pos - math.floor(pos)
        if k == 0:
            expected = r * math.sin(r * math.pi / 2) * v.double()
        elif k == 2:
            expected = (1 - 2 * r) * v.double()
        else:
            continue
        torch.testing.assert_close(out[0, :, 1, j].double(), expected,
                                   atol=tolerance(dtype) * 8, rtol=0.02)  # fmt: skip


@SETTINGS
@given(hw=st.tuples(st.integers(1, 6), st.integers(1, 6)), size=size_st,
       seed=st.integers(0, 2**16), c=st.sampled_from([1, 4, 16]))  # fmt: skip
def test_bislerp_parallel_vectors_keep_the_left_vector(hw, size, seed, c):
    """Positive multiples of one direction: mathematically slerp keeps the direction and lerps
    the norms, but ComfyUI returns the left vector whenever cos > 1 - 1e-5 (the golden files
    need this), so every pass picks ``x[left]``: "floor" sampling at ComfyUI's positions."""
    g = torch.Generator().manual_seed(seed)
    direction = torch.randn(c, generator=g, dtype=torch.float64)
    scale = torch.rand((2, 1, *hw), generator=g, dtype=torch.float64) * 3 + 0.1
    x = direction.reshape(1, c, 1, 1) * scale
    left_h = [int(p) for p in comfy_positions(hw[0], size[0])]
    left_w = [int(p) for p in comfy_positions(hw[1], size[1])]
    expected = x[:, :, left_h][:, :, :, left_w]
    torch.testing.assert_close(upscale(x, size, "bislerp"), expected, atol=1e-12, rtol=1e-12)


@SETTINGS
@given(w=st.integers(2, 8), size=st.integers(2, 20), seed=st.integers(0, 2**16),
       c=st.sampled_from([2, 4, 16]))  # fmt: skip
def test_bislerp_interpolates_norms_linearly(w, size, seed, c):
    """One pass (height unchanged): |out| = (1 - r)|b1| + r|b2| away from the special cases."""
    x = randn((1, c, 3, w), seed, torch.float64)
    out = upscale(x, (3, size), "bislerp")
    norms = torch.linalg.vector_norm(x, dim=1)[0]
    unit = x[0] / norms
    for j, pos in enumerate(comfy_positions(w, size)):
        k, r = int(pos), pos - math.floor(pos)
        k2 = min(k + 1, w - 1)
        cos = (unit[:, :, k] * unit[:, :, k2]).sum(0)
        general = (cos.abs() < 1 - 1e-4) | (k == k2)
        expected = (1 - r) * norms[:, k] + r * norms[:, k2]
        got = torch.linalg.vector_norm(out[0, :, :, j], dim=0)
        torch.testing.assert_close(got[general], expected[general], atol=1e-12, rtol=1e-12)


@SETTINGS
@given(shape=st.tuples(st.integers(1, 2), st.sampled_from([1, 4, 16]), st.integers(1, 8),
                       st.integers(1, 8)),
       factor=st.sampled_from([(1, 2), (1, 4), (2, 3), (3, 2), (1, 3), (2, 1)]),
       seed=st.integers(0, 2**16), special=st.booleans())  # fmt: skip
def test_bislerp_strided_and_gathered_paths_agree(shape, factor, seed, special):
    """Regular scales run phase by phase on strided views; others gather per pixel."""
    x = special_vectors(shape, seed) if special else randn(shape, seed, torch.float64)
    size = (shape[2] * factor[1] // factor[0] or 1, shape[3] * factor[1] // factor[0] or 1)
    phased = upscale(x, size, "bislerp")
    caches = (interpolation._phase_plan, interpolation._pass_plan)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(interpolation, "_MAX_GROUPS", 0)
        for cache in caches:
            cache.cache_clear()
        gathered = upscale(x, size, "bislerp")
    for cache in caches:
        cache.cache_clear()
    torch.testing.assert_close(phased, gathered, atol=1e-10, rtol=1e-10)


def test_bislerp_differs_from_bilinear_by_keeping_norms():
    x = randn((1, 4, 8, 8), seed=9)
    slerped = upscale(x, (16, 16), "bislerp")
    linear = upscale(x, (16, 16), "bilinear")
    assert slerped.norm(dim=1).mean() > linear.norm(dim=1).mean() * 1.05


# --- lanczos ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("n_in", "n_out"), [(5, 10), (10, 5), (7, 7), (1, 4), (9, 1), (3, 17)])
def test_lanczos_weights_rows_sum_to_one(n_in, n_out):
    w = lanczos_weights(n_in, n_out)
    assert w.shape == (n_out, n_in)
    assert w.dtype == torch.float64
    torch.testing.assert_close(w.sum(1), torch.ones(n_out, dtype=torch.float64))
    if n_in == n_out:
        torch.testing.assert_close(w, torch.eye(n_in, dtype=torch.float64))


def test_lanczos_support_widens_when_downscaling():
    up, down = lanczos_weights(10, 20), lanczos_weights(40, 10)
    assert int((up[5] != 0).sum()) == 6  # 2 × 3 taps
    assert int((down[5] != 0).sum()) == 24  # 2 × 3 × scale 4


@SETTINGS
@given(hw=st.tuples(st.integers(1, 12), st.integers(1, 12)), size=size_st,
       seed=st.integers(0, 2**16))  # fmt: skip
def test_lanczos_matches_pillow_float_resize(hw, size, seed):
    image_module = pytest.importorskip("PIL.Image")
    x = randn((1, 1, *hw), seed) * 4
    image = image_module.fromarray(x[0, 0].numpy(), mode="F")
    ref = np.asarray(image.resize((size[1], size[0]), image_module.Resampling.LANCZOS))
    out = upscale(x.double(), size, "lanczos")[0, 0].numpy()
    np.testing.assert_allclose(out, ref, atol=2e-5, rtol=0)


@TORCH_LANCZOS
@SETTINGS
@given(shape=st.tuples(st.integers(1, 2), st.sampled_from([4, 16]), st.integers(1, 12),
                       st.integers(1, 12)),
       size=size_st, seed=st.integers(0, 2**16))  # fmt: skip
def test_lanczos_matches_torch_lanczos(shape, size, seed):
    assume(size[1] > 1 or size[0] == shape[2])  # see the test below
    x = randn(shape, seed) * 2
    ref = F.interpolate(x, size=size, mode="lanczos", antialias=True)
    torch.testing.assert_close(upscale(x, size, "lanczos"), ref, atol=1e-5, rtol=0)
    ref64 = F.interpolate(x.double(), size=size, mode="lanczos", antialias=True)
    torch.testing.assert_close(upscale(x.double(), size, "lanczos"), ref64, atol=1e-10, rtol=0)


@TORCH_LANCZOS
@pytest.mark.parametrize(("hw", "size"), [((32, 32), (64, 64)), ((64, 48), (16, 20))], ids=str)
def test_lanczos_matches_torch_lanczos_larger(hw, size):
    x = randn((2, 4, *hw), seed=11)
    ref = F.interpolate(x, size=size, mode="lanczos", antialias=True)
    torch.testing.assert_close(upscale(x, size, "lanczos"), ref, atol=1e-5, rtol=0)


def test_lanczos_follows_pillow_where_torch_does_not():
    """torch 2.13's antialias kernels (lanczos, and bilinear/bicubic too) go wrong for an output
    width of 1 when the height changes (off by ~0.5 here); Pillow, and our lanczos, don't."""
    image_module = pytest.importorskip("PIL.Image")
    x = randn((1, 1, 5, 3), seed=16)
    image = image_module.fromarray(x[0, 0].numpy(), mode="F")
    pillow = np.asarray(image.resize((1, 8), image_module.Resampling.LANCZOS))
    ours = upscale(x, (8, 1), "lanczos")[0, 0].numpy()
    np.testing.assert_allclose(ours, pillow, atol=1e-6, rtol=0)


def test_lanczos_does_not_clip_or_quantise():
    x = randn((1, 4, 6, 6), seed=12) * 3
    out = upscale(x, (12, 12), "lanczos")
    assert out.min() < -1
    assert out.max() > 2
    assert not torch.allclose(out * 255, (out * 255).round())
    const = torch.full((1, 4, 5, 5), 5.0)
    torch.testing.assert_close(upscale(const, (9, 3), "lanczos"), torch.full((1, 4, 9, 3), 5.0))


# --- CUDA (run where a GPU is present) -------------------------------------------------------


@CUDA
@pytest.mark.parametrize("method", ORDER)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_cuda_matches_cpu(method, dtype):
    x = randn((2, 4, 9, 7), seed=13)
    out = upscale(x.to("cuda", dtype), (17, 12), method)
    assert out.device.type == "cuda"
    assert out.dtype == dtype
    ref = upscale(x.to(dtype), (17, 12), method)
    torch.testing.assert_close(out.cpu().double(), ref.double(), atol=tolerance(dtype) * 20,
                               rtol=0.02)  # fmt: skip


@CUDA
@pytest.mark.parametrize("method", TORCH_METHODS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_cuda_torch_modes_equal_torch(method, dtype):
    x = randn((2, 16, 9, 7), seed=14).to("cuda", dtype)
    align = False if METHODS[method].mode in ("bilinear", "bicubic") else None
    try:
        ref = F.interpolate(x, size=(5, 12), mode=METHODS[method].mode, align_corners=align,
                            antialias=METHODS[method].antialias)  # fmt: skip
    except (RuntimeError, NotImplementedError):
        pytest.skip(f"torch lacks {method} for {dtype} on CUDA")
    assert torch.equal(upscale(x, (5, 12), method), ref)


@CUDA
@pytest.mark.parametrize("method", ["bislerp", "lanczos"])
def test_cuda_large_upscale_finite_and_close(method):
    x = randn((1, 4, 64, 64), seed=15)
    out = upscale(x.cuda(), (128, 128), method).cpu()
    torch.testing.assert_close(out, upscale(x, (128, 128), method), atol=1e-4, rtol=1e-4)
