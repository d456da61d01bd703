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
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["METHODS", "Method", "lanczos_weights", "upscale"]

Kernel = Callable[[torch.Tensor, tuple[int, int]], torch.Tensor]

# ComfyUI's thresholds on the cosine of two neighbouring vectors (comfy/utils.py bislerp).
_PARALLEL_COS = 1 - 1e-5
_OPPOSITE_COS = -1 + 1e-5
# Up to this many strided groups per pass, bislerp runs on strided views (else it gathers).
_MAX_GROUPS = 16
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
# A pass along one axis turns neighbour pairs (b1, b2) = (x[k], x[k + 1]) of C-channel vectors,
# their unit vectors u1, u2 and a ratio r into
#     slerp(u1, u2, r) · L = w1·u1 + w2·u2,   L = (1 - r)|b1| + r|b2|,
#     w1 = sin((1 - r)a) · L/sin a,   w2 = sin(r·a) · L/sin a,
# with a the angle between b1 and b2, ComfyUI's formula. Per pair this needs three numbers:
# a, |b1|/sin a and |b2|/sin a, so that L/sin a is one lerp of the last two in r; per output
# pixel then one multiply and one sine on two scalars, one lerp and one multiply, and one
# two-tap blend of the C channels of u1 and u2. ComfyUI's two special cases blend the vectors
# themselves, as ComfyUI does: near-parallel pairs keep b1 (exactly), near-opposite pairs give
# (1 - r)·b1 + r·b2, their slerp weights being 0. A zero vector's unit vector is 0, as in
# ComfyUI (so its cosine with any neighbour is 0: a right angle). Norms are floored at
# ε = sqrt(smallest normal number) (b/ε instead of b/|b| below it, and ε in L), which keeps
# every weight finite and the result continuous. Scales of a short period (2x, 4x, 1.5x,
# 1.25x, ...) run on strided views (one group of views for several phases at once); others
# gather per pixel.


@functools.lru_cache(maxsize=64)
def _bislerp_coords(n_in: int, n_out: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left index, right index and ratio per output position, from ComfyUI's bilinear index ramp.

    ComfyUI's float32 ratios are kept bit for bit: near-opposite pairs amplify a ratio change
    of 1e-7 several hundred times.
    """
    ramp = torch.arange(n_in, dtype=torch.float32).reshape(1, 1, 1, n_in)
    with _autocast_off("cpu"):  # cached for good: never in bfloat16 (a CUDA latent's job)
        pos = F.interpolate(ramp, size=(1, n_out), mode="bilinear", align_corners=False)
    pos = pos.flatten()
    left = pos.long()
    ratio = (pos - pos.floor()).double()
    # ComfyUI interpolates a second ramp for the right index; float rounding there can skip a
    # column (3 -> 19: position 0.99999994 pairs 0 with 2). The right neighbour is left + 1.
    right = (left + 1).clamp(max=n_in - 1)
    ratio[right == left] = 0.0
    return left, right, ratio


class _Group(NamedTuple):
    """One strided group of a phased pass (see _phase_plan): its ratios and its views, each
    (size, stride, storage offset) on a contiguous tensor."""

    r: torch.Tensor  # the ratios, shaped to broadcast over the group's views
    t: torch.Tensor  # (1 - r, r) stacked along dim 1
    angle: tuple  # view of the maps' first channel (then |b1|/sin a, |b2|/sin a: + plane)
    left: tuple  # view of the left neighbours (of the unit vectors, or of the input)
    right: int  # storage offset of the right neighbours' view (same sizes and strides)
    out: tuple  # view of the output positions
    blend: tuple[int, ...] | None  # shape of a contiguous blend buffer (last axis), else None
    lanes: tuple[int, int, int, int, int]  # _lanes arguments (start, count, step, width, inner)


class _PassPlan(NamedTuple):
    """What a bislerp pass of a contiguous [B, C, H, W] tensor needs besides its values."""

    out_shape: tuple[int, ...]
    maps_shape: tuple[int, ...]  # [B, 3, pairs...]
    ends: tuple  # (|b1|, |b2|) per pair as a [B, 2, pairs...] view of the norms (size, stride)
    floor: float  # norms are floored here (sqrt of the smallest normal number)
    thresholds: tuple[float, float]  # ComfyUI's cosine thresholds in the working dtype
    copies: tuple[tuple[int, int], ...]  # (output, input) positions that copy an input vector
    copy_index: tuple[torch.Tensor, torch.Tensor] | None  # the same as index tensors
    groups: tuple[_Group, ...] | None  # a phased pass, or None: a gathered one
    gather: tuple | None  # a gathered pass: left, right and pair index, r, (1 - r, r)


def _strides(shape: Sequence[int]) -> list[int]:
    """The strides of a contiguous tensor of ``shape``."""
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return strides[::-1]


def _lanes_view(shape, dim: int, start: int, count: int, step: int, width: int, inner: int):
    """(size, stride, offset) of a view of a contiguous tensor of ``shape`` with axis ``dim``
    replaced by (count, width): entry (m, i) is index start + step·m + inner·i of ``dim``.
    Along the last axis the two come swapped, (width, count), so that the long one is
    innermost (a short innermost loop is several times slower)."""
    size, stride = list(shape), _strides(shape)
    s = stride[dim]
    swap = dim == len(shape) - 1
    size[dim : dim + 1] = [width, count] if swap else [count, width]
    stride[dim : dim + 1] = [s * inner, s * step] if swap else [s * step, s * inner]
    return tuple(size), tuple(stride), start * s


def _lanes(t: torch.Tensor, dim: int, *lanes: int) -> torch.Tensor:
    """``t`` (contiguous) viewed as _lanes_view describes."""
    return t.as_strided(*_lanes_view(t.shape, dim, *lanes))


@functools.lru_cache(maxsize=64)
def _pass_plan(shape: tuple[int, ...], dim: int, size: int, device, dtype) -> _PassPlan:
    """The plan of a bislerp pass along ``dim`` to ``size`` of a contiguous tensor of
    ``shape`` (cached: the views and the ratio tensors are made once per shape)."""
    n_in = shape[dim]
    out_shape = list(shape)
    out_shape[dim] = size
    maps_shape = [shape[0], 3, *shape[2:]]
    maps_shape[dim] = n_in - 1
    # (|b1|, |b2|) per pair: channel 1 of the view is one step along dim
    ends_size, ends_stride = list(maps_shape), _strides([shape[0], 1, *shape[2:]])
    ends_size[1] = 2
    ends_stride[1] = ends_stride[dim]
    left, right, ratio = _bislerp_coords(n_in, size)
    phases = _phase_plan(n_in, size)
    if phases is None:
        pair = left.clamp(max=n_in - 2)
        r, t = _ratio_shapes(ratio.tolist(), dim, 4, device, dtype)
        gather = (left.to(device), right.to(device), pair.to(device), r, t)
        copies = tuple((j, int(left[j])) for j in (right == left).nonzero().flatten().tolist())
        groups = None
    else:
        p, q, plan, copies = phases
        gather, groups = None, []
        unit_stride = _strides(shape)[dim]
        for j0, k0, count, inner, rs in plan:
            width = len(rs[0])
            r, t = _ratio_shapes(rs, dim, 5, device, dtype)
            angle = list(_lanes_view(maps_shape, dim, k0, count, q, width, inner))
            angle[0] = (angle[0][0], 1, *angle[0][2:])
            u = _lanes_view(shape, dim, k0, count, q, width, inner)
            out = _lanes_view(out_shape, dim, j0, count, p, width, 1)
            blend = out[0] if dim == len(shape) - 1 else None
            lanes = (k0, count, q, width, inner)
            groups.append(_Group(r, t, tuple(angle), u, u[2] + unit_stride, out, blend, lanes))
        groups = tuple(groups)
    copy_index = None
    if len(copies) > 4:  # a few narrow copies are cheaper than the index kernels
        js, ks = zip(*copies, strict=True)
        copy_index = (torch.tensor(js, device=device), torch.tensor(ks, device=device))
    return _PassPlan(
        tuple(out_shape),
        tuple(maps_shape),
        (tuple(ends_size), tuple(ends_stride)),
        math.sqrt(torch.finfo(dtype).tiny),
        _thresholds(dtype),
        tuple(copies),
        copy_index,
        groups,
        gather,
    )


def _pair_maps(x: torch.Tensor, dim: int, plan: _PassPlan):
    """Unit vectors of ``x`` and, per neighbour pair (k, k+1) along ``dim``, [B, 3, ...] maps
    (angle a, |b1|/sin a, |b2|/sin a), and for ComfyUI's special pairs, if there are any,
    [B, 4, ...] weights (K1, K2, O1, O2) of the vectors themselves: b_i·(K_i + r·O_i), the
    maps' lerp ends being 0 there.
    """
    n = x.shape[dim] - 1
    if x.shape[1] in (1, 4, 8):  # a channel sum then adds as a row sum of [N, C] does
        unit = x * x  # the squares' buffer then holds the unit vectors
        norm = _channel_norm_of_squares(unit).clamp_(min=plan.floor)
        torch.div(x, norm, out=unit)  # as ComfyUI: normalise, then the dot product
        cos = (unit.narrow(dim, 0, n) * unit.narrow(dim, 1, n)).sum(1, keepdim=True)
    else:  # row sums over channels-last copies; the blends read the unit vectors in x's layout
        rowwise = x.contiguous(memory_format=torch.channels_last)
        norm = torch.linalg.vector_norm(rowwise, dim=1, keepdim=True).clamp_(min=plan.floor)
        rowwise = rowwise.div_(norm) if rowwise is not x else rowwise / norm
        cos = (rowwise.narrow(dim, 0, n) * rowwise.narrow(dim, 1, n)).sum(1, keepdim=True)
        del rowwise
        norm = norm.contiguous()
        unit = x / norm
    special = _special_pairs(cos, plan.thresholds)
    maps = cos.new_empty(plan.maps_shape)
    angle, lerp_ends = maps.narrow(1, 0, 1), maps.narrow(1, 1, 2)
    torch.acos(cos, out=angle)
    ends = norm.as_strided(*plan.ends)
    torch.div(ends, angle.sin(), out=lerp_ends)
    if special is None:
        return unit, maps, None
    parallel, opposite = special
    special = parallel | opposite
    lerp_ends.masked_fill_(special, 0.0)  # w = sin(...) · 0, plus the vectors' own weights
    shape = list(plan.maps_shape)
    shape[1] = 4
    fixed = cos.new_zeros(shape)
    fixed.narrow(1, 0, 1).masked_fill_(special, 1.0)  # keep b1: (1, 0); lerp: (1 - r, r)
    fixed.narrow(1, 2, 1).masked_fill_(opposite, -1.0)
    fixed.narrow(1, 3, 1).masked_fill_(opposite, 1.0)
    return unit, maps, fixed


def _special_pairs(cos: torch.Tensor, thresholds: tuple[float, float]):
    """ComfyUI's parallel and opposite pairs as masks (then ``cos`` is clamped to [-1, 1] in
    place), or None when there are none (then every cosine is inside [-1, 1] or NaN).

    The thresholds are compared in the working dtype, as ComfyUI compares them; a NaN cosine is
    neither (its pair's outputs become NaN). The extremes tell whether any pair is special (one
    cheap reduction; with a NaN among them, the elementwise test decides).
    """
    low, high = (float(v) for v in torch.aminmax(cos))
    parallel_cos, opposite_cos = thresholds
    if math.isnan(low) or math.isnan(high):
        if not bool((cos.abs() > _PARALLEL_COS).any()):
            return None
    elif opposite_cos <= low and high <= parallel_cos:
        return None
    parallel, opposite = cos > _PARALLEL_COS, cos < _OPPOSITE_COS
    cos.clamp_(-1.0, 1.0)  # special pairs only: beyond the thresholds, rounding can pass ±1
    return parallel, opposite


@functools.lru_cache(maxsize=8)
def _thresholds(dtype: torch.dtype) -> tuple[float, float]:
    """ComfyUI's cosine thresholds rounded to ``dtype``, as a tensor comparison rounds them."""
    values = torch.tensor([_PARALLEL_COS, _OPPOSITE_COS], dtype=dtype).tolist()
    return values[0], values[1]


def _weights(maps: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """[B, 2, ...] weights (w1, w2) of the unit vectors, contiguous, from pair maps viewed per
    output pixel; ``r`` the ratios, ``t`` = (1 - r, r) stacked along dim 1, both shaped to
    broadcast. (A gathered pass's maps; a phased pass views them per group instead.)"""
    angle, start, end = (maps.narrow(1, i, 1) for i in range(3))
    return _sines_times_lerp(angle, start, end, r, t)


def _sines_times_lerp(angle, start, end, r, t) -> torch.Tensor:
    """sin(a·t) · lerp(start, end, r): (w1, w2) in contiguous buffers (with out=: a strided
    view's stride-0 phase axis would order a result badly)."""
    shape = list(angle.shape)
    shape[1] = 2
    w = torch.mul(angle, t, out=angle.new_empty(shape)).sin_()
    shape[1] = 1
    return w.mul_(torch.lerp(start, end, r, out=angle.new_empty(shape)))  # · L/sin a


def _special_blend(dst, x1, x2, fixed, r) -> None:
    """dst += (K_i + r·O_i)·b_i: ComfyUI's special pairs blend the vectors themselves."""
    k = torch.addcmul(fixed.narrow(1, 0, 2), fixed.narrow(1, 2, 2), r)
    dst.addcmul_(x1, k.narrow(1, 0, 1)).addcmul_(x2, k.narrow(1, 1, 1))


@functools.lru_cache(maxsize=64)
def _phase_plan(n_in: int, n_out: int):
    """The output positions as strided groups and copies, or None when that takes too many
    groups (then the pass gathers instead).

    With g = gcd(n_in, n_out), p = n_out/g and q = n_in/g, position j + p samples pair k + q
    (at the same ratio in exact arithmetic; ComfyUI's float32 ramp can differ in the last
    bits, so the ratios are kept per position). A group (j0, k0, count, inner, ratios) covers
    the positions j0 + p·m + i with the pairs k0 + q·m + inner·i, m < count, i < width, at
    ratios[m][i]: one strided view of the output and one of the input each. Positions past
    the last pair, and those of ratio 0 that start no run, are copies (j, k) of the input.
    """
    g = math.gcd(n_in, n_out)
    p, q = n_out // g, n_in // g
    left, right, ratio = (t.tolist() for t in _bislerp_coords(n_in, n_out))
    runs, copies, last = [], [], {}
    for j, (k, k2, r) in enumerate(zip(left, right, ratio, strict=True)):
        run = last.get(j % p)
        if k2 == k:  # no right neighbour
            copies.append((j, k))
        elif run and k == run[1] + q * len(run[2]) and j == run[0] + p * len(run[2]):
            run[2].append(r)
        elif r == 0.0:
            copies.append((j, k))
        else:
            last[j % p] = run = [j, k, [r]]
            runs.append(run)
    groups: list[list] = []  # [j0, k0, inner, ratios per run]
    for j0, k0, rs in sorted(runs):
        if groups:
            gj, gk, inner, columns = groups[-1]
            width = len(columns)
            step = k0 - gk if width == 1 else inner
            fits = len(rs) == len(columns[0]) and j0 == gj + width
            if fits and step >= 0 and k0 == gk + step * width:
                groups[-1][2] = step
                columns.append(rs)
                continue
        groups.append([j0, k0, 0, [rs]])
    if len(groups) > _MAX_GROUPS:
        return None
    plan = tuple(
        (j0, k0, len(columns[0]), inner, tuple(zip(*columns, strict=True)))
        for j0, k0, inner, columns in groups
    )
    return p, q, plan, tuple(copies)


def _ratio_shapes(ratios, dim: int, ndim: int, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """``ratios`` (a list, or a [count][width] table) as r and (1 - r, r) tensors on
    ``device`` that broadcast along axis ``dim`` (and ``dim + 1`` for a table, swapped as
    _lanes swaps them along the last axis)."""
    r = torch.tensor(ratios, dtype=torch.float64)
    if r.dim() == 2 and dim + 2 == ndim:
        r = r.t()
    shape = [1] * ndim
    shape[dim : dim + r.dim()] = r.shape
    t = torch.stack([1.0 - r, r]).reshape([1, 2, *shape[2:]])
    r = r.reshape(shape).to(device, dtype).contiguous()  # a transposed table's strides, else
    return r, t.to(device, dtype).contiguous()


def _blend_phased(out, unit, x, dim: int, groups, maps, fixed) -> None:
    """A bislerp pass's blends without gathers: per group, one strided view of pairs and of
    outputs. ``x`` (the vectors themselves) is only read where ``fixed`` is not None.

    Along the last axis a group's blend goes to a contiguous buffer first and is then copied
    into the interleaved output (arithmetic with a short innermost stride is several times
    slower than one such copy)."""
    plane = maps.stride(1)
    for g in groups:
        size, stride, offset = g.angle
        w = _sines_times_lerp(
            maps.as_strided(size, stride, offset),
            maps.as_strided(size, stride, offset + plane),
            maps.as_strided(size, stride, offset + 2 * plane),
            g.r,
            g.t,
        )
        dst = out.as_strided(*g.out)
        blend = dst if g.blend is None else out.new_empty(g.blend)
        size, stride, offset = g.left
        torch.mul(unit.as_strided(size, stride, offset), w.narrow(1, 0, 1), out=blend)
        blend.addcmul_(unit.as_strided(size, stride, g.right), w.narrow(1, 1, 1))
        if fixed is not None:
            pairs = x.as_strided(size, stride, offset), x.as_strided(size, stride, g.right)
            _special_blend(blend, *pairs, _lanes(fixed, dim, *g.lanes), g.r)
        if g.blend is not None:
            dst.copy_(blend)


def _take(x: torch.Tensor, dim: int, index: torch.Tensor) -> torch.Tensor:
    """x.index_select(dim, index), as a gather with an expanded index along the last dim."""
    if dim == x.dim() - 1:  # gather is several times faster than index_select there on CPU
        return torch.gather(x, dim, index.expand([*x.shape[:-1], index.numel()]))
    return torch.index_select(x, dim, index)


def _blend_gathered(out, unit, x, dim: int, gather, maps, fixed) -> None:
    """A bislerp pass's blends, gathering the pair maps and the neighbours per output pixel
    (the positions past the last pair get a blend too, which the copies overwrite)."""
    left, right, pair, r, t = gather
    w = _weights(_take(maps, dim, pair), r, t)
    f = None if fixed is None else _take(fixed, dim, pair)
    del maps, fixed
    channels = unit.shape[1]
    step = -(-channels // 2)  # two chunks bound the gathered temporaries
    for c0 in range(0, channels, step):
        c = min(step, channels - c0)
        dst = out.narrow(1, c0, c)
        torch.mul(_take(unit.narrow(1, c0, c), dim, left), w.narrow(1, 0, 1), out=dst)
        dst.addcmul_(_take(unit.narrow(1, c0, c), dim, right), w.narrow(1, 1, 1))
        if f is not None:
            pairs = (_take(x.narrow(1, c0, c), dim, i) for i in (left, right))
            _special_blend(dst, *pairs, f, r)


def _copy_left(out: torch.Tensor, x: torch.Tensor, dim: int, plan: _PassPlan) -> None:
    """Write the positions of a pass that copy an input vector from ``x`` into ``out``."""
    if plan.copy_index is None:
        for j, k in plan.copies:
            out.narrow(dim, j, 1).copy_(x.narrow(dim, k, 1))
    else:
        out.index_copy_(dim, plan.copy_index[0], x.index_select(dim, plan.copy_index[1]))


def _bislerp_pass(held: list[torch.Tensor], dim: int, size: int) -> torch.Tensor:
    """One bislerp pass along ``dim`` (3 = width, 2 = height) of the contiguous
    float32/float64 latent that ``held`` holds. The pass takes it out of the list: a tensor
    that nobody else holds (an intermediate) is freed once its unit vectors are computed,
    unless special pairs need it."""
    x = held.pop()
    n_in = x.shape[dim]
    if n_in == size:
        return x
    if n_in == 1:
        shape = list(x.shape)
        shape[dim] = size
        return x.expand(shape).contiguous()
    plan = _pass_plan(tuple(x.shape), dim, size, x.device, x.dtype)
    out = x.new_empty(plan.out_shape)
    unit, maps, fixed = _pair_maps(x, dim, plan)
    if plan.groups is None:  # the gathers write every position: copies afterwards
        _blend_gathered(out, unit, x, dim, plan.gather, maps, fixed)
        _copy_left(out, x, dim, plan)
        return out
    _copy_left(out, x, dim, plan)  # the left vector itself
    if fixed is None:
        x = None  # not needed any more: an intermediate is freed here
    _blend_phased(out, unit, x, dim, plan.groups, maps, fixed)
    return out


def _sqrt_rounded(t: torch.Tensor) -> torch.Tensor:
    """Correctly rounded square root (torch 2.13's float32 CPU sqrt is often an ulp off)."""
    if t.device.type == "cpu" and t.dtype == torch.float32:
        return torch.from_numpy(np.sqrt(t.detach().numpy()))
    return t.sqrt()


def _channel_norm_of_squares(squares: torch.Tensor) -> torch.Tensor:
    """|x| over channels from x·x, rounded as ComfyUI's torch.norm over [N, C] rows rounds it.

    The parallel / opposite decisions must agree with ComfyUI's bit for bit (the golden
    linspace cases sit within an ulp of its thresholds). For C in (1, 4, 8) an NCHW channel
    sum adds in the same order as a row sum (checked on torch 2.13), and vector_norm's square
    root is correctly rounded. (Other C: vector_norm over channels-last rows.)
    """
    return _sqrt_rounded(squares.sum(1, keepdim=True))


@torch.no_grad()
def _bislerp(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """ComfyUI's bislerp (comfy/utils.py): slerp of channel vectors, width pass then height pass.

    Per pair of neighbours b1, b2 and ratio r (ComfyUI's float32 ratios): b1 if their cosine
    is above 1 - 1e-5, (1 - r)·b1 + r·b2 if below -1 + 1e-5, else the slerp of the unit vectors
    times (1 - r)|b1| + r|b2|; a zero vector's unit vector is 0 (a right angle to anything), so
    next to b it gives r·sin(r·π/2)·b (b on the right) or (1 - r)·sin((1 - r)·π/2)·b (b on the
    left). No threshold on lengths: however short, a vector keeps its direction.

    Computed in float32 (float64 for float64 input). Where it differs from ComfyUI: the right
    neighbour is always left + 1 (ComfyUI's float32 ramp can skip a column), float64 input
    stays float64, and vectors shorter than ε (1.1e-19 in float32) are scaled by 1/ε instead
    of normalised (ComfyUI's norm underflows to 0 there, making them zero vectors), which keeps
    the result continuous. A vector that is rounding residue (e.g. the blend of two nearly
    opposite neighbours) has a direction made of rounding noise, here as in ComfyUI, so next
    to it the two can differ by up to about r times the neighbour's length. Not
    differentiable (in-place arithmetic; it runs under no_grad).
    """
    wide = torch.float64 if x.dtype == torch.float64 else torch.float32
    held = [x.to(wide).contiguous()]  # each pass takes its input out: intermediates die there
    held = [_bislerp_pass(held, 3, size[1])]
    return _bislerp_pass(held, 2, size[0]).to(x.dtype)


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


def _lanczos_apply(t: torch.Tensor, m: torch.Tensor, last: bool) -> torch.Tensor:
    """The [n_out, n_in] matrix ``m`` applied along t's last axis, or the one before it."""
    return torch.matmul(t, m.t()) if last else torch.matmul(m, t)


def _lanczos_pass(x: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    """One separable Lanczos pass along ``dim`` (3 = width, 2 = height)."""
    if x.shape[dim] == size:
        return x
    m = _lanczos_matrix(x.shape[dim], size, x.device, x.dtype)
    last = dim == x.dim() - 1
    if bool(x.sum().isfinite()):  # no NaN or inf in x (or, rarely, a sum that overflows)
        return _lanczos_apply(x, m, last)
    # A matmul multiplies every input by every weight, zeros included (NaN·0 = NaN), so one
    # NaN would reach every output. Instead: the finite values as usual, and the NaN / ±inf
    # an output's taps see, combined as IEEE addition would combine them.
    out = _lanczos_apply(torch.where(torch.isfinite(x), x, 0.0), m, last)
    flags = torch.stack([x == math.inf, x == -math.inf, x.isnan()]).to(x.dtype)
    via_plus = _lanczos_apply(flags, (m > 0).to(x.dtype), last)  # taps of positive weight
    via_minus = _lanczos_apply(flags, (m < 0).to(x.dtype), last)
    plus = (via_plus[0] + via_minus[1]) > 0  # some term is +inf
    minus = (via_plus[1] + via_minus[0]) > 0  # some term is -inf
    nan = ((via_plus[2] + via_minus[2]) > 0).logical_or_(plus & minus)
    out.masked_fill_(plus, math.inf).masked_fill_(minus, -math.inf)
    return out.masked_fill_(nan, math.nan)


def _lanczos(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Lanczos-3 resize as Pillow's float LANCZOS (= torch's mode='lanczos' with antialias).

    Width pass, then height pass, each a matmul with lanczos_weights in float32 (float64 for
    float64 input). NaN and ±inf stay local: an output is what the sum of weight × value over
    its taps (the inputs of nonzero weight) gives in IEEE arithmetic (NaN if a tap is NaN or
    +inf and -inf terms meet, else ±inf if a tap is infinite); other outputs are unaffected.
    """
    wide = torch.float64 if x.dtype == torch.float64 else torch.float32
    out = _lanczos_pass(_lanczos_pass(x.to(wide), size[1], 3), size[0], 2)
    return out.to(x.dtype)


# --- registry and entry point --------------------------------------------------------------

# name, UI label, torch interpolate mode or our kernel, antialias, one-sentence help for the UI.
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
    ("bislerp", "Bislerp", _bislerp, False,
     "ComfyUI's spherical blend of the channel vectors, keeping their length; for upscales"
     " that should look less washed out than bilinear."),
    ("lanczos", "Lanczos", _lanczos, False,
     "Lanczos-3 (Pillow's filter, no clipping); the sharpest for large upscales and clean"
     " downscales, with slight ringing at edges."),
)  # fmt: skip


def _method(name: str, label: str, run: str | Kernel, antialias: bool, help_text: str) -> Method:
    """A registry entry from a table row: ``run`` is a torch interpolate mode or our kernel."""
    if isinstance(run, str):
        return Method(name, label, help_text, run, antialias, _torch_kernel(run, antialias))
    return Method(name, label, help_text, None, antialias, run)


METHODS: Mapping[str, Method] = MappingProxyType({row[0]: _method(*row) for row in _TABLE})

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

    NaN and ±inf stay local, on every device and in every dtype: they reach only the outputs
    whose taps include them (for bislerp, the outputs of the neighbour pairs they belong to, in
    every channel; for the other methods, only their own channel). All other outputs are what
    they would be with a finite value in their place. (torch's antialias kernels read wrong taps
    for an output width of 1 when the height changes; their values are wrong there too.)

    Errors of the underlying kernels, out of memory included, are raised unchanged; only a
    torch mode without a float16/bfloat16 kernel on the device is retried in float32 there.
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
