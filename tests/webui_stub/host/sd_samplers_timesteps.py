"""Stub of ``modules.sd_samplers_timesteps``: DDIM/PLMS/UniPC use fixed timesteps, no sigmas."""

from __future__ import annotations

from typing import Any

import torch
from modules import sd_samplers_common, shared


class CompVisSampler(sd_samplers_common.Sampler):
    def __init__(self, funcname: str, sd_model: Any) -> None:
        super().__init__(funcname)
        self.model_wrap = None  # a timestep denoiser (no sigma table), made on first use

    def get_timesteps(self, p: Any, steps: int) -> torch.Tensor:
        options = self.config.options if self.config is not None else {}
        discard = options.get("discard_next_to_last_sigma", False)
        if shared.opts.always_discard_next_to_last_sigma and not discard:
            discard = True
        steps += 1 if discard else 0
        return torch.clip(torch.asarray(list(range(0, 1000, 1000 // steps))) + 1, 0, 999)

    def sample_img2img(
        self,
        p: Any,
        x: torch.Tensor,
        noise: torch.Tensor,
        conditioning: Any,
        unconditional_conditioning: Any,
        steps: int | None = None,
        image_conditioning: Any = None,
    ) -> torch.Tensor:
        steps, t_enc = sd_samplers_common.setup_img2img_steps(p, steps)
        timesteps = self.get_timesteps(p, steps)
        run = timesteps[:t_enc]
        record = {"total": steps, "t_enc": t_enc, "timesteps": run.cpu().clone()}
        self._record(p, record, x, noise, image_conditioning)
        return self._loop(
            p, x + 0.1 * noise, len(run), lambda latent, i: latent * 0.99, sampling_steps=t_enc + 1
        )

    def sample(
        self,
        p: Any,
        x: torch.Tensor,
        conditioning: Any,
        unconditional_conditioning: Any,
        steps: int | None = None,
        image_conditioning: Any = None,
    ) -> torch.Tensor:
        """txt2img: every timestep from pure noise ``x``."""
        steps = steps or p.steps
        run = self.get_timesteps(p, steps)
        record = {"total": len(run), "t_enc": len(run), "timesteps": run.cpu().clone()}
        self._record(p, record, x, x, image_conditioning)
        return self._loop(p, x, len(run), lambda latent, i: latent * 0.99, sampling_steps=steps)
