"""The job's schedule: ``p.sampler_noise_scheduler_override`` bound to the job's own model.

Every host asks a set override first (before its per-job scheduler or ``opts.k_sched_type``),
so the override is the one way that works the same on every host and fork, whatever a host's
label means there (reForge's "Beta" is ComfyUI's beta). The user's own ``p.scheduler`` is never
changed: later passes of other extensions (ADetailer's "use same scheduler") keep reading it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from latent_upscale import options
from latent_upscale.options import Settings
from latent_upscale.schedules import SCHEDULES, check_flow, is_flow_table
from latent_upscale.steps import host_schedule
from latent_upscale.webui.common import LOG_PREFIX, JobRecord, comment

OVERRIDE = "sampler_noise_scheduler_override"


@dataclasses.dataclass(frozen=True)
class ScheduleOverride:
    """``p.sampler_noise_scheduler_override`` for one job, bound to that job's ``model_wrap``.

    The host calls it with the schedule length (after ``setup_img2img_steps``, +1 for samplers
    that discard the penultimate sigma) and slices the result itself; it returns
    :func:`latent_upscale.steps.host_schedule` on the model's own sigma table.
    """

    schedule: str
    model_wrap: Any = dataclasses.field(repr=False, compare=False)
    sdxl: bool = False
    full_steps: bool = False  # keep exactly the slider's step count (trim longer schedules)
    record: JobRecord | None = dataclasses.field(default=None, repr=False, compare=False)

    def __call__(self, steps: int) -> torch.Tensor:
        table = self.model_wrap.sigmas  # ascending, as every host's wrappers keep it
        if self.record is not None:
            self.record.override_calls += 1
        if steps <= 0:  # nothing to sample (the host's own rule at denoise 0 never asks this)
            return torch.zeros(1, device=table.device)
        start = self.record.slice_start if self.record is not None else 0
        # as it is: get_sigmas keeps float16/32/64 tables (a half model's coarse table is part of
        # what the host computes from it) and reads them on the CPU
        sigmas = host_schedule(
            self.schedule,
            int(steps),
            table.detach(),
            slice_start=start,
            full_steps=self.full_steps,
            sdxl=self.sdxl,
        )
        return sigmas.to(table.device)  # where the host's own schedules are made (CPU on 1.10+)


def honours_schedules(sampler: Any) -> bool:
    """Whether ``sampler`` asks for sigmas (k-diffusion style) rather than fixed timesteps."""
    wrap = getattr(sampler, "model_wrap", None)
    return callable(getattr(sampler, "get_sigmas", None)) and hasattr(wrap, "sigmas")


def apply_schedule(p: Any, settings: Settings, record: JobRecord) -> str:
    """Make the chosen schedule the one the job's sampler runs; returns the schedule that runs.

    Raises ValueError before sampling for a schedule not defined on the job's model (a
    flow-matching model's sigmas, detected from the job's own sigma table).
    """
    if settings.scheduler == options.AUTOMATIC:
        return options.AUTOMATIC
    label = SCHEDULES[settings.scheduler].label
    sampler = getattr(p, "sampler", None)
    if not honours_schedules(sampler):
        comment(
            p,
            f"the sampler {getattr(p, 'sampler_name', '?')!r} uses fixed timesteps and ignores "
            f"custom schedules: scheduler {label!r} was not applied (the WebUI's own ran).",
        )
        return options.AUTOMATIC
    table = sampler.model_wrap.sigmas
    if is_flow_table(table):
        try:
            check_flow(SCHEDULES[settings.scheduler])
        except ValueError as exc:
            raise ValueError(f"{LOG_PREFIX} {exc}") from None
    sdxl = bool(getattr(getattr(p, "sd_model", None), "is_sdxl", False))
    override = ScheduleOverride(
        settings.scheduler, sampler.model_wrap, sdxl, settings.full_steps, record
    )
    record.override = override
    record.ours[OVERRIDE] = override  # set on p while the job's own sampling runs
    return settings.scheduler
