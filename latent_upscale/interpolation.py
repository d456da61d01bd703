"""Latent resize methods: torch's interpolate modes, ComfyUI's bislerp and a clean Lanczos-3.

``upscale(latent, size, method)`` resizes a [B, C, H, W] latent (any C) to ``size`` =
(height, width) in latent pixels. ``METHODS`` maps each method name to its :class:`Method`,
in display order.
"""

from __future__ import annotations

import contextlib
import functools
import math
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["METHODS", "Method", "lanczos_weights", "upscale"]

Kernel = Callable[[torch.Tensor, tuple[int, int]], torch.Tensor]

# ComfyUI's thresholds on the cosine of two neighbouring vectors (comfy/utils.py bislerp).
_PARALLEL_COS = 1 - 1e-5
_OPPOSITE_COS = -1 + 1e-5
# An angle so small that sin(t·a)/sin(a) = t to ~1e-13: slerp weights become lerp weights.
_LERP_ANGLE = 1e-6
# A vector shorter than this many machine epsilons times its neighbour counts as zero.
_NEGLIGIBLE = 64
# Up to this many distinct ratios per pass, bislerp runs phase by phase on strided views.
_MAX_PHASES = 8
_HALF_DTYPES = (torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class Method:
    """One latent resize method: its name, UI label and help text, and the function that runs it."""

    name: str
    label: str
    description: str
    mode: str | None = None  # torch.nn.functional.interpolate mode, None for our own kernels
    antialias: bool = False
    kernel: Kernel = field(default=None, repr=False, compare=False)  # type: ignore[assignment]


# --- torch modes -------------------------------------------------------------------------


def _interpolate(
    x: torch.Tensor, size: tuple[int, int], mode: str, antialias: bool
) -> torch.Tensor:
    """torch.nn.functional.interpolate with align_corners=False where the mode takes it."""
    align = False if mode in ("bilinear", "bicubic") else None
    return F.interpolate(x, size=size, mode=mode, align_corners=align, antialias=antialias)


def _torch_kernel(mode: str, antialias: bool) -> Kernel:
    """A thin dispatch to torch's interpolate, in float32 where the device lacks a half kernel."""
    align = False if mode in ("bilinear", "bicubic") else None

    def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        # CPU antialias kernels raise for float16/bfloat16 (torch 2.13): go straight to float32.
        if antialias and x.dtype in _HALF_DTYPES and x.device.type == "cpu":
            return _interpolate(x.float(), size, mode, antialias).to(x.dtype)
        try:
            return F.interpolate(x, size=size, mode=mode, align_corners=align, antialias=antialias)
        except RuntimeError as error:  # NotImplementedError and OutOfMemoryError are ones too
            if x.dtype not in _HALF_DTYPES or not _lacks_half_kernel(error):
                raise
        return _interpolate(x.float(), size, mode, antialias).to(x.dtype)

    return resize


# torch's dispatch error for a kernel without a float16/bfloat16 version, e.g.
# '"compute_index_ranges_weights" not implemented for 'Half''
_HALF_KERNEL_MISSING = re.compile(r"\bnot implemented for '(Half|BFloat16)'")


def _lacks_half_kernel(error: BaseException) -> bool:
    """Whether ``error`` says a kernel lacks a float16/bfloat16 version (nothing else is retried:
    out-of-memory and every other error reach the caller unchanged)."""
    return isinstance(error, RuntimeError) and bool(_HALF_KERNEL_MISSING.search(str(error)))


# --- bislerp (ComfyUI comfy/utils.py) ------------------------------------------------------
#
# Per pass, for output position j with left neighbour k = left[j] and ratio r = ratio[j], the
# channel vectors b1 = x[k], b2 = x[k + 1] give
#     slerp(b1/|b1|, b2/|b2|, r) · ((1 - r)|b1| + r|b2|) = w1·b1 + w2·b2,
#     w1 = sin((1 - r)a) · q · L,   w2 = sin(r·a) · (q/ρ) · L,   L = 1 + r(ρ - 1),
# with a the angle between b1 and b2, q = 1/sin(a) and ρ = |b2|/|b1|. What depends on the pair
# only (a, ρ - 1, q, q/ρ) is computed once per input pair; per output pixel there are two sines
# and a few multiplies on one scalar per pixel, then one two-tap blend of the C channels.
# ComfyUI's special cases become pair parameters: linear blending (zero vectors, near-opposite
# pairs) is a tiny angle with ρ = 1, and "keep b1" (near-parallel pairs) weights (1, 0).
# Regular scales (2x, 4x, ...) run phase by phase on strided views; others gather per pixel.

_P_ANGLE, _P_MOVE, _P_RHO1, _P_Q = 0, 1, 2, 3  # channels of the pair parameters (Q: q, q/ρ)


@functools.lru_cache(maxsize=64)
def _bislerp_coords(n_in: int, n_out: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left index, right index and ratio per output position, from ComfyUI's bilinear index ramp.

    ComfyUI's float32 ratios are kept bit for bit: near-opposite pairs amplify a ratio change
    of 1e-7 several hundred times.
    """
    ramp = torch.arange(n_in, dtype=torch.float32).reshape(1, 1, 1, n_in)
    pos = F.interpolate(ramp, size=(1, n_out), mode="bilinear", align_corners=False).flatten()
    left = pos.long()
    ratio = (pos - pos.floor()).double()
    # ComfyUI interpolates a second ramp for the right index; float rounding there can skip a
    # column (3 -> 19: position 0.99999994 pairs 0 with 2). The right neighbour is left + 1.
    right = (left + 1).clamp(max=n_in - 1)
    ratio[right == left] = 0.0
    return left, right, ratio


@functools.lru_cache(maxsize=64)
def _bislerp_plan(
    n_in: int, n_out: int, dim: int, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Device copies of the coordinates: left, right, pair index and ratio (shaped for ``dim``)."""
    left, right, ratio = _bislerp_coords(n_in, n_out)
    # The last position pairs with itself (ratio 0): use the pair before it, weights (1, 0).
    pair = left.clamp(max=max(n_in - 2, 0))
    view = [1, 1, 1, 1]
    view[dim] = n_out
    return (
        left.to(device),
        right.to(device),
        pair.to(device),
        ratio.to(device, dtype).reshape(view),
    )


def _take(x: torch.Tensor, dim: int, index: torch.Tensor, out: torch.Tensor | None = None):
    """x.index_select(dim, index), as a gather with an expanded index along the last dim."""
    if dim == x.dim() - 1:  # gather is several times faster than index_select there on CPU
        shape = [*x.shape[:-1], index.numel()]
        return torch.gather(x, dim, index.expand(shape), out=out)
    return torch.index_select(x, dim, index, out=out)


def _sqrt_rounded(t: torch.Tensor) -> torch.Tensor:
    """Correctly rounded square root (torch 2.13's float32 CPU sqrt is often an ulp off)."""
    if t.device.type == "cpu" and t.dtype == torch.float32:
        return torch.from_numpy(np.sqrt(t.detach().numpy()))
    return t.sqrt()


def _channel_norm(x: torch.Tensor) -> torch.Tensor:
    """|x| over channels, rounded as ComfyUI's torch.norm over [N, C] rows rounds it."""
    # The parallel / opposite decisions must agree with ComfyUI's bit for bit (the golden
    # linspace cases sit within an ulp of its thresholds). For C in (1, 4, 8) an NCHW channel
    # sum adds in the same order as a row sum (checked on torch 2.13), and vector_norm's
    # square root is correctly rounded.
    if x.shape[1] in (1, 4, 8):
        return _sqrt_rounded((x * x).sum(1, keepdim=True))
    return torch.linalg.vector_norm(x, dim=1, keepdim=True)


def _pair_params(x: torch.Tensor, dim: int) -> torch.Tensor:
    """[B, 5, ...] per neighbour pair (k, k+1) along ``dim``: angle a, move flag m (0: keep b1),
    ρ - 1, q = 1/sin(a) and q/ρ; linear pairs have a tiny a and ρ = 1."""
    n = x.shape[dim] - 1
    tiny = math.sqrt(torch.finfo(x.dtype).tiny)  # keeps |b2|/|b1| finite
    if x.shape[1] not in (1, 4, 8):
        x = x.contiguous(memory_format=torch.channels_last)  # row-sum order for the channels
    norm = _channel_norm(x).clamp_(min=tiny)
    unit = x / norm  # as ComfyUI: normalise, then the dot product
    cos = (unit.narrow(dim, 0, n) * unit.narrow(dim, 1, n)).sum(1)
    del unit
    n1, n2 = norm.narrow(dim, 0, n).squeeze(1), norm.narrow(dim, 1, n).squeeze(1)
    shape = list(norm.shape)
    shape[1], shape[dim] = 5, n
    params = norm.new_empty(shape)
    angle, move, rho_1, q, q_rho = params.unbind(1)
    # Zero vectors and near-opposite pairs (ComfyUI) blend linearly: angle -> 0, ρ = 1. A vector
    # negligible next to its neighbour (rounding residue, e.g. the midpoint of v and -v) counts
    # as zero. (Float arithmetic rather than masked_fill / where: several times faster on CPU.)
    rho = torch.div(n2, n1, out=rho_1)
    limit = _NEGLIGIBLE * torch.finfo(x.dtype).eps
    nonzero = (rho > limit).logical_and_(rho < 1.0 / limit)
    # move: 0 where ComfyUI keeps the left vector (cos > 1 - 1e-5; zero vectors have cos 0)
    torch.logical_or(cos <= _PARALLEL_COS, nonzero.logical_not(), out=move)
    slerp = nonzero.logical_and_(cos >= _OPPOSITE_COS).to(x.dtype)
    cos.sub_(1.0).mul_(slerp).add_(1.0)  # cos = 1 for linear pairs
    # A tiny angle instead of 0 keeps sin(t·a)/sin(a) = t finite (near-parallel pairs too);
    # 1/sin(a) = 1/sqrt((1 - cos)(1 + cos)), with the same floor.
    torch.acos(cos.clamp_(-1.0, 1.0), out=angle).clamp_(min=_LERP_ANGLE)
    torch.mul(1.0 - cos, cos.add_(1.0), out=q).clamp_(min=math.sin(_LERP_ANGLE) ** 2).rsqrt_()
    rho.sub_(1.0).mul_(slerp)  # ρ - 1; 0 for linear pairs
    torch.div(q, rho_1 + 1.0, out=q_rho)
    return params


def _slerp_weights(params: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """[B, 2, ...] weights (w1, w2) per output pixel from its pair's parameters (see above).

    Works in place in ``params`` (gathered per output pixel, so no longer needed).
    """
    angle = params.narrow(1, _P_ANGLE, 1)
    u = params.narrow(1, _P_MOVE, 1).mul_(ratio)  # the ratio, or 0 where b1 is kept
    lengths = params.narrow(1, _P_RHO1, 1).mul_(u).add_(1.0)  # L = 1 + u(ρ - 1)
    shape = list(params.shape)
    shape[1] = 2
    w = params.new_empty(shape)
    torch.mul(angle, u, out=w.narrow(1, 1, 1))
    torch.sub(angle, w.narrow(1, 1, 1), out=w.narrow(1, 0, 1))  # (1 - u)·a, u·a
    return w.sin_().mul_(params.narrow(1, _P_Q, 2)).mul_(lengths)


def _blend_pairs(
    x: torch.Tensor,
    dim: int,
    left: torch.Tensor,
    right: torch.Tensor,
    w: torch.Tensor,
    dtype: torch.dtype,
) -> torch.Tensor:
    """w1·x[left] + w2·x[right] along ``dim`` into a ``dtype`` tensor, a few channels at a time."""
    shape = list(x.shape)
    shape[dim] = left.numel()
    out = torch.empty(shape, dtype=dtype, device=x.device)
    w1, w2 = w.narrow(1, 0, 1), w.narrow(1, 1, 1)
    channels = x.shape[1]
    direct = dtype == x.dtype  # accumulate in the output itself; else in a wide buffer
    step = -(-channels // (2 if direct else 4))  # chunks bound the temporaries
    tmp = acc = None
    for c0 in range(0, channels, step):
        xs = x.narrow(1, c0, min(step, channels - c0))
        dst = out.narrow(1, c0, xs.shape[1])
        if tmp is None or tmp.shape[1] != xs.shape[1]:
            tmp = torch.empty_like(dst, dtype=x.dtype, memory_format=torch.contiguous_format)
            acc = dst if direct else torch.empty_like(tmp)
        if direct:
            acc = dst
        torch.mul(_take(xs, dim, left, out=tmp), w1, out=acc)
        acc.addcmul_(_take(xs, dim, right, out=tmp), w2)
        if not direct:
            dst.copy_(acc)
    return out


@functools.lru_cache(maxsize=64)
def _phase_plan(n_in: int, n_out: int):
    """The output positions as strided runs (first j, count, first pair k, ratio) and copies
    (j, k) of ratio 0; None when that takes too many runs (then the pass gathers instead).

    With g = gcd(n_in, n_out), p = n_out/g and q = n_in/g, position j + p samples pair k + q
    at the same ratio (exactly, and bit for bit in ComfyUI's float32 ramp when 2p divides
    2^24, e.g. for 2x and 4x), so each of the p phases is one strided run.
    """
    g = math.gcd(n_in, n_out)
    p, q = n_out // g, n_in // g
    if p > _MAX_PHASES:
        return None
    left, _, ratio = _bislerp_coords(n_in, n_out)
    left, ratio = left.tolist(), ratio.tolist()
    runs, copies = [], []
    for phase in range(p):
        run = None
        for j in range(phase, n_out, p):
            k, r = left[j], ratio[j]
            if r == 0.0:
                copies.append((j, k))
            elif run and k == run[2] + q * run[1] and r == run[3]:
                run[1] += 1
            else:
                run = [j, 1, k, r]
                runs.append(run)
    if len(runs) > 2 * _MAX_PHASES:
        return None
    return p, q, tuple(tuple(r) for r in runs), tuple(copies)


def _strided(t: torch.Tensor, axis: int, start: int, count: int, step: int) -> torch.Tensor:
    """View of ``count`` entries of ``t`` along ``axis`` from ``start``, ``step`` apart."""
    index = [slice(None)] * t.dim()
    index[axis] = slice(start, start + (count - 1) * step + 1, step)
    return t[tuple(index)]


def _bislerp_pass_phased(x: torch.Tensor, dim: int, size: int, plan, dtype) -> torch.Tensor:
    """A bislerp pass without gathers: one strided run of pairs and outputs per phase.

    Each run has one ratio (ComfyUI's float32 value), so the two sines per output pixel become
    one sine per pair and distinct ratio (r and 1 - r are shared between phases).
    """
    p, q, runs, copies = plan
    params = _pair_params(x, dim)
    angle, move, rho_1, q_m, q_rho_m = params.unbind(1)
    q_m.mul_(move)
    q_rho_m.mul_(move)
    keep = move.neg_().add_(1.0)  # w1 = 1, w2 = 0 where ComfyUI keeps the left vector
    sines: dict[float, torch.Tensor] = {}

    def sine(t: float) -> torch.Tensor:
        if t not in sines:
            sines[t] = torch.mul(angle, t).sin_()
        return sines[t]

    shape = list(x.shape)
    shape[dim] = size
    out = torch.empty(shape, dtype=dtype, device=x.device)
    pa = dim - 1  # the pass axis in the per-pair maps (no channel axis)
    for j0, count, k0, ratio in runs:
        dst = _strided(out, dim, j0, count, p)
        b1, b2 = _strided(x, dim, k0, count, q), _strided(x, dim, k0 + 1, count, q)
        lengths = _strided(rho_1, pa, k0, count, q).mul(ratio).add_(1.0)
        w1 = _strided(sine(1.0 - ratio), pa, k0, count, q) * _strided(q_m, pa, k0, count, q)
        w1.mul_(lengths).add_(_strided(keep, pa, k0, count, q)).unsqueeze_(1)
        w2 = _strided(sine(ratio), pa, k0, count, q) * _strided(q_rho_m, pa, k0, count, q)
        w2.mul_(lengths).unsqueeze_(1)
        if dtype == x.dtype:
            torch.mul(b1, w1, out=dst).addcmul_(b2, w2)
        else:
            dst.copy_(torch.mul(b1, w1).addcmul_(b2, w2))
    if copies:  # ratio 0: the left vector itself
        js, ks = _copy_indices(copies, x.device)
        out.index_copy_(dim, js, x.index_select(dim, ks).to(dtype))
    return out


@functools.lru_cache(maxsize=64)
def _copy_indices(copies: tuple, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Output and input indices of the copied positions, on ``device`` (cached)."""
    js, ks = zip(*copies, strict=True)
    return torch.tensor(js, device=device), torch.tensor(ks, device=device)


def _bislerp_pass(
    x: torch.Tensor, dim: int, size: int, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """One bislerp pass along ``dim`` (3 = width, 2 = height) of a float32/float64 latent."""
    n_in = x.shape[dim]
    dtype = dtype or x.dtype
    if n_in == size:
        return x.to(dtype)
    plan = _phase_plan(n_in, size) if n_in > 1 else None
    if plan is not None:
        return _bislerp_pass_phased(x, dim, size, plan, dtype)
    left, right, pair, ratio = _bislerp_plan(n_in, size, dim, x.device, x.dtype)
    if n_in == 1:
        return _take(x, dim, left).to(dtype)
    w = _slerp_weights(_take(_pair_params(x, dim), dim, pair), ratio)
    return _blend_pairs(x.contiguous(), dim, left, right, w, dtype)


@torch.no_grad()
def _bislerp(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """ComfyUI's bislerp (comfy/utils.py): slerp of channel vectors, width pass then height pass.

    Not differentiable (in-place arithmetic; it runs under no_grad).
    """
    wide = torch.float64 if x.dtype == torch.float64 else torch.float32
    # Nested calls so that each intermediate is freed as soon as the next pass has read it.
    return _bislerp_pass(_bislerp_pass(x.to(wide), 3, size[1]), 2, size[0], x.dtype)


# --- Lanczos-3 (Pillow's LANCZOS resampling, float images) ----------------------------------


def _lanczos3(t: torch.Tensor) -> torch.Tensor:
    """Pillow's lanczos_filter: sinc(t)·sinc(t/3) on [-3, 3), else 0 (libImaging/Resample.c)."""
    return torch.where(
        (t >= -3.0) & (t < 3.0), torch.sinc(t) * torch.sinc(t / 3.0), torch.zeros_like(t)
    )


@functools.lru_cache(maxsize=128)
def lanczos_weights(n_in: int, n_out: int) -> torch.Tensor:
    """[n_out, n_in] float64 Lanczos-3 resampling matrix, as Pillow's precompute_coeffs."""
    scale = n_in / n_out
    filterscale = max(scale, 1.0)  # the support widens when downscaling (antialiasing)
    support = 3.0 * filterscale
    center = (torch.arange(n_out, dtype=torch.float64) + 0.5) * scale
    first = torch.trunc(center - support + 0.5).clamp(min=0)
    stop = torch.trunc(center + support + 0.5).clamp(max=n_in)
    src = torch.arange(n_in, dtype=torch.float64)
    taps = (src >= first[:, None]) & (src < stop[:, None])
    w = _lanczos3((src[None, :] - center[:, None] + 0.5) * (1.0 / filterscale)) * taps
    total = w.sum(1, keepdim=True)
    return torch.where(total != 0, w / total.masked_fill(total == 0, 1.0), w)


@functools.lru_cache(maxsize=128)
def _lanczos_matrix(n_in: int, n_out: int, device: torch.device, dtype: torch.dtype):
    """lanczos_weights on ``device`` in ``dtype`` (cached: no host-to-device copy per call)."""
    return lanczos_weights(n_in, n_out).to(device, dtype)


def _lanczos(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Lanczos-3 resize as Pillow's float LANCZOS (= torch's mode='lanczos' with antialias)."""
    wide = torch.float64 if x.dtype == torch.float64 else torch.float32
    out = x.to(wide)
    height, width = x.shape[-2:]
    if width != size[1]:
        out = torch.matmul(out, _lanczos_matrix(width, size[1], x.device, wide).t())
    if height != size[0]:
        out = torch.matmul(_lanczos_matrix(height, size[0], x.device, wide), out)
    return out.to(x.dtype)


# --- registry and entry point --------------------------------------------------------------

# name, UI label, torch mode (None: our kernel), antialias, one-sentence help for the UI.
_TABLE = (
    ("nearest", "Nearest", "nearest", False,
     "Copies the pixel up-left of each sample (torch's half-pixel-shifted 'nearest'); only to"
     " reproduce old results, prefer nearest-exact."),
    ("nearest-exact", "Nearest (exact)", "nearest-exact", False,
     "Copies the closest latent pixel without blending; for integer upscales whose blocky"
     " detail the next pass repaints."),
    ("bilinear", "Bilinear", "bilinear", False,
     "Blends the 2×2 nearest latent pixels; A1111's default 'Latent' upscaler, a safe choice"
     " for upscaling."),
    ("bilinear-antialiased", "Bilinear (antialiased)", "bilinear", True,
     "Bilinear with the filter widened when shrinking, so downscales don't alias; equals"
     " bilinear when upscaling."),
    ("bicubic", "Bicubic", "bicubic", False,
     "Cubic blend of 4×4 latent pixels; sharper than bilinear when upscaling, can overshoot."),
    ("bicubic-antialiased", "Bicubic (antialiased)", "bicubic", True,
     "Pillow's bicubic, widened when shrinking; for sharp, alias-free downscales."),
    ("area", "Area", "area", False,
     "Averages the latent pixels each output pixel covers; best for downscaling, like"
     " nearest for integer upscales."),
    ("bislerp", "Bislerp", None, False,
     "ComfyUI's spherical blend of the channel vectors, keeping their length; for upscales"
     " that should look less washed out than bilinear."),
    ("lanczos", "Lanczos", None, False,
     "Lanczos-3 (Pillow's filter, no clipping); the sharpest for large upscales and clean"
     " downscales, with slight ringing at edges."),
)  # fmt: skip
_KERNELS: dict[str, Kernel] = {"bislerp": _bislerp, "lanczos": _lanczos}

METHODS: Mapping[str, Method] = MappingProxyType(
    {
        name: Method(
            name,
            label,
            help_text,
            mode,
            antialias,
            _torch_kernel(mode, antialias) if mode else _KERNELS[name],
        )
        for name, label, mode, antialias, help_text in _TABLE
    }
)

_SIZE_RULE = "size must be (height, width): two integers >= 1"


def _check_size(size: object) -> tuple[int, int]:
    """(height, width) as two positive ints, else ValueError."""
    if type(size) in (tuple, list) and len(size) == 2:  # fast path for the common case
        h, w = size
        if type(h) is int and type(w) is int and h >= 1 and w >= 1:
            return h, w
    if isinstance(size, (str, bytes)) or not isinstance(size, Sequence) or len(size) != 2:
        raise ValueError(f"{_SIZE_RULE}; got {size!r}")
    for v in size:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{_SIZE_RULE}; got {size!r}")
    return int(size[0]), int(size[1])


def _check_latent(latent: object) -> torch.Tensor:
    """A 4-D floating-point tensor with non-empty height and width, else ValueError."""
    if not isinstance(latent, torch.Tensor):
        raise ValueError(f"latent must be a torch.Tensor [B, C, H, W]; got {type(latent).__name__}")
    if latent.dim() != 4:
        shape = tuple(latent.shape)
        raise ValueError(f"latent must be 4-D [B, C, H, W]; got {latent.dim()}-D shape {shape}")
    if not latent.is_floating_point():
        raise ValueError(
            "latent must be floating point (float16, bfloat16, float32 or float64);"
            f" got {latent.dtype}"
        )
    if latent.shape[2] < 1 or latent.shape[3] < 1:
        raise ValueError(f"latent height and width must be >= 1; got shape {tuple(latent.shape)}")
    return latent


def _autocast_off(device_type: str) -> contextlib.AbstractContextManager:
    """A context that turns autocast off for ``device_type`` where it is on, else a no-op.

    The WebUI runs its img2img and hires code inside torch.autocast; there matmul (lanczos)
    would run in float16/bfloat16 and interpolate may change the dtype.
    """
    try:
        on = torch.is_autocast_enabled(device_type)
    except (TypeError, RuntimeError, ValueError):  # torch < 2.4: no argument; unknown types
        if device_type == "cuda":
            on = torch.is_autocast_enabled()
        elif device_type == "cpu":
            on = torch.is_autocast_cpu_enabled()
        else:  # mps and others had no autocast before torch 2.4
            on = False
    if not on:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type, enabled=False)


def upscale(latent: torch.Tensor, size: Sequence[int], method: str) -> torch.Tensor:
    """Resize a [B, C, H, W] latent to ``size`` = (height, width) with ``method`` (see METHODS).

    Any channel count; larger or smaller sizes. The result has the input's dtype and device.
    Resizing to the input's own size returns a copy (never the input itself), so callers may
    modify the result in place. Raises ValueError for an unknown method or a bad input.

    The result does not depend on torch.autocast: every method runs with autocast turned off
    for the latent's device (torch modes in the latent's dtype, bislerp and lanczos in float32,
    or float64 for float64 input).
    """
    spec = METHODS.get(method) if isinstance(method, str) else None
    if spec is None:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    x = _check_latent(latent)
    hw = _check_size(size)
    if x.shape[2] == hw[0] and x.shape[3] == hw[1]:
        return x.clone()
    if x.numel() == 0:
        return x.new_empty((*x.shape[:2], *hw))
    with _autocast_off(x.device.type):
        return spec.kernel(x, hw)
