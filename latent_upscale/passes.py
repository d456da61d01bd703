"""Upscaling in several latent passes: the target size, each pass's size, denoise and sigmas.

An img2img job that upscales by a factor in ``passes`` passes resizes its latent ``passes``
times, geometrically (2x in 2 passes is about 1.41x, then 1.41x), and denoises it at every
size; only the last result is decoded. Every pass's sigmas come from
:func:`latent_upscale.steps.plan_img2img`, the same rule a one-pass job runs, so the WebUI and
the ``schedule`` command agree pass by pass.

Sizes are pixels, ``(width, height)``, rounded to multiples of ``SIZE_MULTIPLE`` (the WebUI's
size sliders move in 8s, and the latent has one entry per 8 pixels); the last pass is exactly
the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from torch import Tensor

from latent_upscale.steps import Img2ImgPlan, check_schedule_length, plan_img2img

__all__ = [
    "DEFAULT_LATER_DENOISE",
    "DEFAULT_PASSES",
    "DEFAULT_SCALE",
    "MAX_PASSES",
    "MAX_SCALE",
    "SIZE_MULTIPLE",
    "Pass",
    "check_later_denoise",
    "check_passes",
    "check_scale",
    "pass_sizes",
    "plan_passes",
    "scaled_size",
]

DEFAULT_SCALE = 0.0  # "Upscale by" off: the job's own width and height
DEFAULT_PASSES = 1
# Later passes start from a latent that pass 1 has already denoised at a smaller size: the
# composition is settled, and what a later pass must repair is what its own (smaller) resize
# did. 0.4 keeps the picture while still repainting a nearest-exact or bilinear resize of up
# to 1.5x; raise it for larger steps per pass, lower it to change less.
DEFAULT_LATER_DENOISE = 0.4
MAX_PASSES = 4
MAX_SCALE = 8.0
SIZE_MULTIPLE = 8

Size = tuple[int, int]  # (width, height) in pixels


def check_scale(scale: object) -> float:
    """A valid "Upscale by" value: 0 (off) or a factor in (0, ``MAX_SCALE``]."""
    if (
        isinstance(scale, bool)
        or not isinstance(scale, Real)
        or not math.isfinite(scale)
        or not 0 <= scale <= MAX_SCALE
    ):
        raise ValueError(
            f"Latent Upscale: upscale by must be 0 (off) or a factor up to {MAX_SCALE:g}, "
            f"got {scale!r}"
        )
    return float(scale)


def check_passes(passes: object) -> int:
    """A valid pass count: an integer from 1 to ``MAX_PASSES`` (whole floats accepted)."""
    whole_float = (
        isinstance(passes, Real)
        and not isinstance(passes, bool | Integral)
        and math.isfinite(passes)
        and float(passes).is_integer()
    )
    if whole_float:
        passes = int(passes)
    if (
        isinstance(passes, bool)
        or not isinstance(passes, Integral)
        or not 1 <= passes <= MAX_PASSES
    ):
        raise ValueError(
            f"Latent Upscale: passes must be a whole number from 1 to {MAX_PASSES}, got {passes!r}"
        )
    return int(passes)


def check_later_denoise(denoise: object) -> float:
    """A valid denoising strength for the passes after the first: a number in [0, 1]."""
    if (
        isinstance(denoise, bool)
        or not isinstance(denoise, Real)
        or not math.isfinite(denoise)
        or not 0 <= denoise <= 1
    ):
        raise ValueError(
            f"Latent Upscale: later passes' denoise must be a number in [0, 1], got {denoise!r}"
        )
    return float(denoise)


def _round(value: float, multiple: int) -> int:
    """``value`` to the nearest multiple of ``multiple`` (halves up), at least ``multiple``."""
    return max(multiple, math.floor(value / multiple + 0.5) * multiple)


def scaled_size(size: Size, scale: float, multiple: int = SIZE_MULTIPLE) -> Size:
    """``size`` times ``scale``, each side rounded to the nearest multiple of ``multiple``.

    >>> scaled_size((512, 768), 1.5)
    (768, 1152)
    >>> scaled_size((100, 60), 1.3)
    (128, 80)
    """
    scale = check_scale(scale)
    if scale == 0:
        raise ValueError("Latent Upscale: scale 0 means off; there is no scaled size")
    width, height = size
    return _round(width * scale, multiple), _round(height * scale, multiple)


def pass_sizes(
    source: Size, target: Size, passes: int, multiple: int = SIZE_MULTIPLE
) -> list[Size]:
    """The size each pass denoises at, from the source image's ``source`` to ``target``.

    Each side grows geometrically: pass ``k`` of ``n`` is ``source * (target / source) **
    (k / n)``, rounded to a multiple of ``multiple``; the last pass is exactly ``target``.

    >>> pass_sizes((512, 512), (1024, 1024), 2)
    [(728, 728), (1024, 1024)]
    """
    passes = check_passes(passes)
    (w0, h0), (w1, h1) = source, target
    if min(w0, h0, w1, h1) <= 0:
        raise ValueError(f"Latent Upscale: sizes must be positive, got {source} and {target}")
    sizes = []
    for k in range(1, passes):
        t = k / passes
        sizes.append((_round(w0 * (w1 / w0) ** t, multiple), _round(h0 * (h1 / h0) ** t, multiple)))
    sizes.append((int(w1), int(h1)))
    return sizes


@dataclass(frozen=True)
class Pass:
    """One pass of a job: the size it denoises at, its strength and what its sampler runs."""

    index: int  # 1-based
    width: int  # pixels
    height: int
    plan: Img2ImgPlan  # the pass's schedule, steps and sigmas

    @property
    def denoise(self) -> float:
        return self.plan.denoise

    @property
    def latent_size(self) -> Size:
        """(height, width) of the latent, as torch orders them: one entry per 8 pixels."""
        return self.height // SIZE_MULTIPLE, self.width // SIZE_MULTIPLE

    @property
    def sigmas(self) -> Tensor:
        return self.plan.sigmas

    @property
    def steps_run(self) -> int:
        return self.plan.steps_run


def plan_passes(
    schedule: str,
    steps: int,
    denoise: float,
    full_steps: bool,
    *,
    source: Size,
    target: Size,
    passes: int = DEFAULT_PASSES,
    later_denoise: float = DEFAULT_LATER_DENOISE,
    table: Tensor | None = None,
    sampler: str = "Euler",
    sizes: list[Size] | None = None,
    **kwargs: Any,
) -> list[Pass]:
    """What each pass of a job runs: pass 1 at ``denoise``, the others at ``later_denoise``.

    ``sizes`` overrides :func:`pass_sizes` (a host that rounds sizes its own way); ``kwargs``
    go to :func:`latent_upscale.steps.plan_img2img` (``sdxl``, schedule parameters). Every
    pass is checked against the schedule-length limit before any is computed.
    """
    later_denoise = check_later_denoise(later_denoise)
    sizes = sizes if sizes is not None else pass_sizes(source, target, passes)
    strengths = [denoise] + [later_denoise] * (len(sizes) - 1)
    for strength in strengths:  # every pass is within the limits before any is computed
        check_schedule_length(steps, strength, full_steps)
    plans = [
        plan_img2img(schedule, steps, strength, full_steps, table, sampler=sampler, **kwargs)
        for strength in dict.fromkeys(strengths)  # at most two distinct plans
    ]
    by_strength = {plan.denoise: plan for plan in plans}
    return [
        Pass(i, w, h, by_strength[float(strength)])
        for i, ((w, h), strength) in enumerate(zip(sizes, strengths, strict=True), start=1)
    ]
