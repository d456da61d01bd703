"""img2img step arithmetic: how many steps a denoise strength runs, and on which sigmas.

The WebUI builds the schedule for ``total`` steps and runs its tail from index
``total - t_enc - 1`` (``t_enc + 1`` steps). Example: 30 steps at denoise 0.4 run 13 steps
(schedule of 30, tail of 14 sigmas); with "do exactly the amount of steps the slider specifies"
(``full_steps``) they run 30 (schedule of 75, tail of 31 sigmas).

:func:`plan_img2img` is the one place that decides which sigmas a Latent Upscale job runs: the
WebUI adapter's schedule override returns :func:`host_schedule` for the length the host asks
for, and the command prints :func:`plan_img2img`, which applies the host's own slice to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import torch
from torch import Tensor

from latent_upscale.schedules import (
    AUTOMATIC,
    discards_penultimate,
    drop_penultimate,
    get_sigmas,
    resolve_schedule,
)

__all__ = [
    "MAX_SCHEDULE_LENGTH",
    "Img2ImgPlan",
    "check_schedule_length",
    "fit_schedule",
    "host_schedule",
    "img2img_sigmas",
    "img2img_steps",
    "plan_img2img",
]

DENOISE_CAP = 0.999  # the WebUI clips denoise here so full_steps never divides by 1
# The longest schedule a job may ask for: full steps at a tiny denoise asks for steps / denoise
# entries (4 steps at denoise 1e-7 made a real WebUI grow to 19 GB). 10,000 lets the WebUI's
# largest slider value (150 steps) run full steps down to denoise 0.015; each schedule of this
# length takes milliseconds and well under a megabyte.
MAX_SCHEDULE_LENGTH = 10_000


def _check_steps(steps: object) -> int:
    if isinstance(steps, bool) or not isinstance(steps, Integral) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    return int(steps)


def _check_denoise(denoise: object) -> float:
    if isinstance(denoise, bool) or not isinstance(denoise, Real) or not 0 <= denoise <= 1:
        raise ValueError(f"denoise must be a number in [0, 1], got {denoise!r}")
    return float(denoise)


def img2img_steps(steps: int, denoise: float, full_steps: bool) -> tuple[int, int]:
    """(schedule length ``total``, ``t_enc``) as the WebUI's ``setup_img2img_steps`` computes them.

    ``full_steps`` is the option "With img2img, do exactly the amount of steps the slider
    specifies" (always on for the hires-fix pass). ``t_enc + 1`` steps run. At denoise 0 the
    host gets ``total = 0`` with ``full_steps`` and ``t_enc = 0`` without.
    """
    steps = _check_steps(steps)
    denoise = _check_denoise(denoise)
    capped = min(denoise, DENOISE_CAP)
    if full_steps:
        return (int(steps / capped) if denoise > 0 else 0), steps - 1
    return steps, int(capped * steps)


def runs_full_steps(full_steps: bool, denoise: float) -> bool:
    """Whether full steps really apply: chosen, and denoise above 0 (full steps at denoise 0
    would ask for a 0-step schedule, so the WebUI's own rule runs instead)."""
    return bool(full_steps) and denoise > 0


def check_schedule_length(steps: int, denoise: float, full_steps: bool) -> tuple[int, int]:
    """``img2img_steps`` for a job that really runs, or ValueError past ``MAX_SCHEDULE_LENGTH``.

    Checked before anything is computed, by the WebUI script and the command alike.
    """
    denoise = _check_denoise(denoise)
    full = runs_full_steps(full_steps, denoise)
    total, t_enc = img2img_steps(steps, denoise, full)
    if total > MAX_SCHEDULE_LENGTH:
        if full:
            lowest = steps / MAX_SCHEDULE_LENGTH
            hint = (
                f"full steps at denoise {denoise:g} asks for a {total}-step schedule "
                f"({steps} / {denoise:g}); raise denoise to at least {lowest:.4g} or turn full "
                "steps off"
            )
        else:
            hint = f"{steps} steps ask for a {total}-step schedule; lower the steps"
        raise ValueError(
            f"Latent Upscale: {hint} (the limit is {MAX_SCHEDULE_LENGTH} schedule steps)."
        )
    return total, t_enc


def fit_schedule(sigmas: Tensor, length: int, slice_start: int, *, trim: bool) -> Tensor:
    """``sigmas`` fitted to the host's unchecked contract of ``length`` entries, end kept.

    The host slices ``sigmas[slice_start:]`` and assumes ``length`` entries. With ``trim`` a
    longer schedule (DDIM's index grid) keeps its last ``length`` values, as ComfyUI's KSampler
    does, so the slider's step count runs; without, it stays as the host's own would be. A
    shorter one (ComfyUI's Beta merges repeated timesteps) is padded in front with its first
    value, but never into the slice, where a repeated sigma would be a zero-size step: then
    fewer steps run, as in ComfyUI.
    """
    if sigmas.numel() > length:
        return sigmas[-length:] if trim else sigmas
    pad = min(length - sigmas.numel(), slice_start)
    if pad <= 0:
        return sigmas
    return torch.cat([sigmas[:1].expand(pad), sigmas])


def host_schedule(
    name: str,
    n: int,
    table: Tensor | None = None,
    *,
    slice_start: int = 0,
    full_steps: bool = False,
    **kwargs: Any,
) -> Tensor:
    """What Latent Upscale hands the host when it asks for an ``n``-step schedule.

    The host asks for ``n`` (its schedule length, +1 for samplers that discard the penultimate
    sigma), then slices from ``slice_start`` (0 outside img2img). ``kwargs`` go to
    :func:`latent_upscale.schedules.get_sigmas`.
    """
    sigmas = fit_schedule(get_sigmas(name, n, table, **kwargs), n + 1, slice_start, trim=full_steps)
    return torch.cat([sigmas[:slice_start], distinct(sigmas[slice_start:])])


def distinct(sigmas: Tensor) -> Tensor:
    """``sigmas`` without repeated neighbours: a repeated sigma is a zero-length step, which
    samplers that divide by the last step size (DPM++ 2M) turn into NaN. Simple repeats table
    entries past the table's length (full steps at a low denoise ask for such schedules); the
    run then starts at the same sigma and takes fewer, distinct steps."""
    if sigmas.numel() < 2:
        return sigmas
    keep = torch.ones_like(sigmas, dtype=torch.bool)
    keep[1:] = sigmas[1:] != sigmas[:-1]
    return sigmas if bool(keep.all()) else sigmas[keep]


@dataclass(frozen=True)
class Img2ImgPlan:
    """The sigmas one img2img job runs and the step arithmetic behind them."""

    schedule: str  # canonical schedule name
    steps: int  # the slider's steps
    denoise: float
    full_steps: bool  # full steps really applied (chosen, and denoise above 0)
    total: int  # the schedule length the host asks for (before the discard sampler's +1)
    t_enc: int
    sigmas: Tensor  # what the sampler receives, descending

    @property
    def steps_run(self) -> int:
        """Sampling steps: one fewer than the sigmas."""
        return max(self.sigmas.numel() - 1, 0)


def plan_img2img(
    name: str,
    steps: int,
    denoise: float,
    full_steps: bool,
    table: Tensor | None = None,
    *,
    sampler: str = "Euler",
    **kwargs: Any,
) -> Img2ImgPlan:
    """What a WebUI img2img job with Latent Upscale runs: schedule ``name``, ``steps``, ``denoise``.

    The host's rule with our schedule: ``total, t_enc = img2img_steps``; the schedule for
    ``total`` (+1 and the penultimate sigma dropped for samplers that discard it), as
    :func:`host_schedule` fits it; the tail from ``total - t_enc - 1``. ``"automatic"`` is the
    host's own choice for ``sampler`` and is not fitted. With full steps exactly ``steps`` run,
    except where a schedule has fewer distinct sigmas (ComfyUI's Beta, or Simple longer than the
    model's table, at very high counts: repeated sigmas in the run are dropped, so it starts at
    the same sigma with fewer steps);
    full steps at denoise 0 fall back to the WebUI's rule (one step at the lowest sigma).
    ``kwargs`` go to :func:`latent_upscale.schedules.get_sigmas` (``sdxl``, schedule params).
    """
    schedule = resolve_schedule(name)
    total, t_enc = check_schedule_length(steps, denoise, full_steps)
    full = runs_full_steps(full_steps, denoise)
    start = total - t_enc - 1
    if schedule.name == AUTOMATIC:
        sigmas = get_sigmas(AUTOMATIC, total, table, sampler=sampler, **kwargs)
    else:
        discard = discards_penultimate(sampler)
        n = total + 1 if discard else total
        sigmas = host_schedule(
            schedule.name, n, table, slice_start=start, full_steps=full, **kwargs
        )
        if discard:
            sigmas = drop_penultimate(sigmas)
    tail = sigmas[start:]
    return Img2ImgPlan(schedule.name, int(steps), float(denoise), full, total, t_enc, tail)


def img2img_sigmas(
    name: str,
    steps: int,
    denoise: float,
    full_steps: bool,
    table: Tensor | None = None,
    **kwargs: Any,
) -> Tensor:
    """The sigmas of :func:`plan_img2img` (same arguments)."""
    return plan_img2img(name, steps, denoise, full_steps, table, **kwargs).sigmas
