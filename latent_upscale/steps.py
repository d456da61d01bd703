"""img2img step arithmetic: how many steps a denoise strength runs, and on which sigmas.

The WebUI builds the schedule for ``total`` steps and runs its tail from index
``total - t_enc - 1`` (``t_enc + 1`` steps). Example: 30 steps at denoise 0.4 run 13 steps
(schedule of 30, tail of 14 sigmas); with "do exactly the amount of steps the slider specifies"
(``full_steps``) they run 30 (schedule of 75, tail of 31 sigmas).
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import torch
from torch import Tensor

from latent_upscale.schedules import drop_penultimate, get_sigmas, resolve_schedule

__all__ = ["img2img_sigmas", "img2img_steps", "ksampler_sigmas"]

DENOISE_CAP = 0.999  # the WebUI clips denoise here so full_steps never divides by 1


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


def img2img_sigmas(
    name: str,
    steps: int,
    denoise: float,
    full_steps: bool,
    table: Tensor | None = None,
    **kwargs: Any,
) -> Tensor:
    """The sigmas WebUI img2img runs: ``get_sigmas(name, total)[total - t_enc - 1:]``.

    ``kwargs`` go to :func:`latent_upscale.schedules.get_sigmas` (``sigma_min``, ``sigma_max``,
    ``sdxl``, schedule params such as ``sampler`` for "Automatic"). Denoise 0 returns an empty
    tensor: there is nothing to sample, so the caller should keep the input as it is (the host
    itself would fail with ``full_steps`` or still run one step at the smallest sigma without).
    Raises ValueError when the schedule is too short for the host's slice (ComfyUI-style Beta
    drops repeated timesteps, so it can return fewer than ``total + 1`` values).
    """
    schedule = resolve_schedule(name)
    total, t_enc = img2img_steps(steps, denoise, full_steps)
    if denoise == 0:
        return torch.zeros(0, dtype=torch.float32)
    sigmas = get_sigmas(schedule.name, total, table, **kwargs)
    start = total - t_enc - 1
    if start > sigmas.numel() - 2:
        raise ValueError(
            f"schedule {schedule.name!r} gives {sigmas.numel()} sigmas for {total} steps, too few "
            f"for the img2img slice from index {start}; lower the steps, raise denoise or turn "
            "full steps off"
        )
    return sigmas[start:]


def ksampler_sigmas(
    name: str,
    steps: int,
    denoise: float,
    table: Tensor | None = None,
    *,
    discard_penultimate: bool = False,
    **kwargs: Any,
) -> Tensor:
    """The sigmas ComfyUI's KSampler runs: schedule of ``int(steps / denoise)``, last ``steps+1``.

    ComfyUI ``KSampler.set_steps``: denoise above 0.9999 uses the whole schedule, denoise 0 an
    empty one. ``discard_penultimate`` mimics its dpm_2 / uni_pc samplers (one more step, the
    next-to-last sigma dropped).
    """
    steps = _check_steps(steps)
    denoise = _check_denoise(denoise)
    if denoise <= 0:
        return torch.zeros(0, dtype=torch.float32)
    total = steps if denoise > 0.9999 else int(steps / denoise)
    if discard_penultimate:
        sigmas = drop_penultimate(get_sigmas(name, total + 1, table, **kwargs))
    else:
        sigmas = get_sigmas(name, total, table, **kwargs)
    return sigmas if denoise > 0.9999 else sigmas[-(steps + 1) :]
