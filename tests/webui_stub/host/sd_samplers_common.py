"""Stub of ``modules.sd_samplers_common``: the img2img step rule and the sampler base."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from modules import shared


class SamplerData(NamedTuple):
    name: str
    constructor: Any
    aliases: list[str]
    options: dict[str, Any]


def setup_img2img_steps(p: Any, steps: int | None = None) -> tuple[int, int]:
    """(schedule length, t_enc) the way every host computes them (hosts notes, section 3.3)."""
    if shared.opts.img2img_fix_steps or steps is not None:
        requested = steps or p.steps
        steps = int(requested / min(p.denoising_strength, 0.999)) if p.denoising_strength > 0 else 0
        t_enc = requested - 1
    else:
        steps = p.steps
        t_enc = int(min(p.denoising_strength, 0.999) * steps)
    return steps, t_enc


class Sampler:
    """Base of the stub's samplers: records every run (sigmas or timesteps) for the tests."""

    def __init__(self, funcname: str) -> None:
        self.funcname = funcname
        self.config: SamplerData | None = None
        self.runs: list[dict[str, Any]] = []

    def _loop(self, p: Any, x: Any, n: int, step: Any, sampling_steps: int | None = None) -> Any:
        """The sampling loop, as the hosts' ``launch_sampling`` and step callback count it:
        ``state.sampling_steps`` at the start, ``state.sampling_step`` and the total progress
        bar after each step. An interrupt or a skip stops it before the next step and the
        current latent is returned (the hosts return the last latent the same way)."""
        state = shared.state
        state.sampling_steps = n if sampling_steps is None else sampling_steps
        state.sampling_step = 0
        for i in range(n):
            if state.on_step is not None:
                state.on_step(p, i)
            if state.interrupted or state.skipped:
                break
            x = step(x, i)
            state.sampling_step = i
            shared.total_tqdm.update()
        return x

    def _record(self, p: Any, run: dict[str, Any], x: Any, noise: Any, image_conditioning: Any):
        """Keep ``run`` on this sampler and in the job's log (``Processed.sampler_runs``), with
        what the call saw: noise, size, denoise, image conditioning, job counters, mask."""
        state = shared.state
        nmask = getattr(p, "nmask", None)
        run.update(
            noise=None if noise is None else noise.detach().clone(),
            width=p.width,
            height=p.height,
            denoise=getattr(p, "denoising_strength", None),
            image_conditioning=(
                image_conditioning.detach().clone()
                if isinstance(image_conditioning, torch.Tensor)
                else None
            ),
            job_no=state.job_no,
            job_count=state.job_count,
            mask=nmask.detach().clone() if isinstance(nmask, torch.Tensor) else None,
        )
        self.runs.append(run)
        log = vars(p).get("stub_sampler_runs")
        if isinstance(log, list):
            log.append(run)
        check_image_conditioning(p, x, image_conditioning)


def check_image_conditioning(p: Any, x: Any, image_conditioning: Any) -> None:
    """An inpainting model's UNet takes the latent and the image conditioning side by side
    (9 channels); a real one fails where their sizes differ, so the stub samplers do too."""
    if not getattr(getattr(p, "sd_model", None), "inpainting", False):
        return
    if not isinstance(image_conditioning, torch.Tensor):
        return
    if tuple(image_conditioning.shape[-2:]) != tuple(x.shape[-2:]):
        raise RuntimeError(
            f"inpainting model: image conditioning {tuple(image_conditioning.shape)} does not "
            f"fit the latent {tuple(x.shape)} (the UNet concatenates them)"
        )
