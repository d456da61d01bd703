"""Stub of ``modules.shared``: frozen options, job state, latent and pixel upscalers, device."""

from __future__ import annotations

import os
from typing import Any

import modules
import torch

HOST = modules.HOST


class FrozenOptions:
    """``opts`` as under ``--freeze-settings``: reading works, any write raises AssertionError."""

    def __init__(self, **data: Any) -> None:
        object.__setattr__(self, "data", dict(data))

    def __getattr__(self, key: str) -> Any:
        try:
            return self.__dict__["data"][key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        raise AssertionError(f"settings are frozen: refusing to set opts.{key}")

    def set(self, key: str, value: Any, **_kwargs: Any) -> bool:
        raise AssertionError(f"settings are frozen: refusing to set opts.{key}")

    def _stub_set(self, key: str, value: Any) -> None:
        """For tests that simulate a user's setting (the extension never calls this)."""
        self.__dict__["data"][key] = value


_options = {
    "img2img_fix_steps": False,
    "always_discard_next_to_last_sigma": False,
    "use_old_karras_scheduler_sigmas": False,
    "sigma_min": 0.0,
    "sigma_max": 0.0,
    "rho": 0.0,
    "sd_vae_encode_method": "Full",
    "enable_quantization": False,
    "overlay_inpaint": True,
    "inpainting_mask_weight": 1.0,
}
if HOST.schedulers is None:
    _options["k_sched_type"] = "Automatic"
else:
    _options.update(beta_dist_alpha=0.6, beta_dist_beta=0.6)
opts = FrozenOptions(**_options)


class State:
    """``shared.state``: the job and step counters, the interrupt flags, hooks for tests.

    ``begin()`` resets the counters as the host's does when a job starts (the stub's
    ``process_images`` calls it for an outermost job: the stub has no UI wrapper), and
    ``nextjob()`` counts a finished sampling (each n_iter iteration, each Hires. fix pass).
    """

    def __init__(self) -> None:
        self.interrupted = False
        self.skipped = False
        self.stopping_generation = False
        self.job = ""
        self.job_count = 0
        self.job_no = 0
        self.sampling_step = 0
        self.sampling_steps = 0
        self.processing_has_refined_job_count = False
        self.on_step = None  # test hook: called (p, step) by the sampling loop
        self.on_postprocess = None  # test hook: called (p,) after each sample, as ADetailer's
        # postprocess_image runs between a job's sampling and its infotext

    def begin(self, job: str = "(unknown)") -> None:
        self.job = job
        self.job_count = -1
        self.job_no = 0
        self.sampling_step = 0
        self.processing_has_refined_job_count = False
        self.interrupted = False
        self.skipped = False
        self.stopping_generation = False

    def interrupt(self) -> None:
        self.interrupted = True

    def skip(self) -> None:
        self.skipped = True

    def nextjob(self) -> None:
        self.job_no += 1
        self.sampling_step = 0


class TotalTQDM:
    """``shared.total_tqdm``, the console's "Total progress" bar, as numbers: ``total`` (set by
    ``updateTotal``, else job_count x sampling_steps when the bar starts) and ``n`` (one per
    sampler step). ``clear()`` closes the bar (the stub's process_images does that when an
    outermost job starts, so a test reads the last job's numbers after it)."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.n = 0
        self.active = False

    def reset(self) -> None:
        self.total = state.job_count * state.sampling_steps
        self.n = 0
        self.active = True

    def update(self) -> None:
        if not self.active:
            self.reset()
        self.n += 1

    def updateTotal(self, new_total: int) -> None:
        if not self.active:
            self.reset()
        self.total = new_total

    def clear(self) -> None:
        self.total = None
        self.n = 0
        self.active = False


state = State()
total_tqdm = TotalTQDM()
device = torch.device(os.environ.get("LATENT_UPSCALE_STUB_DEVICE", "cpu"))  # e.g. cuda, mps
sd_model = None  # set by processing.make_img2img

latent_upscale_default_mode = "Latent"
latent_upscale_modes = {
    "Latent": {"mode": "bilinear", "antialias": False},
    "Latent (antialiased)": {"mode": "bilinear", "antialias": True},
    "Latent (bicubic)": {"mode": "bicubic", "antialias": False},
    "Latent (bicubic antialiased)": {"mode": "bicubic", "antialias": True},
    "Latent (nearest)": {"mode": "nearest", "antialias": False},
    "Latent (nearest-exact)": {"mode": "nearest-exact", "antialias": False},
}


class UpscalerData:
    """A pixel upscaler's entry in ``sd_upscalers`` (the stub resizes with torch)."""

    def __init__(self, name: str, mode: str) -> None:
        self.name = name
        self.mode = mode


sd_upscalers = [UpscalerData("Lanczos", "bicubic"), UpscalerData("Nearest", "nearest")]
