"""The host adapter: the only sub-package of the project that imports the WebUI (``modules.*``).

It hooks at the narrowest points every host has (A1111 1.6-1.10, Forge, reForge, Forge Classic)
and never copies host code. One module per concern:

- ``job``: the img2img hooks (init's latent resize, the step rule, sampling) and the script's run;
- ``redirect``: the per-thread redirect of ``torch.nn.functional.interpolate`` to our methods;
- ``schedule``: the job's schedule as ``p.sampler_noise_scheduler_override``;
- ``hires``: the txt2img Hires. fix upscalers;
- ``xyz``: the X/Y/Z plot axes;
- ``script``: the ``scripts.Script`` class and the load-time setup;
- ``common``: names, console lines and the per-job record.

Everything is gated per job, undone after it, and never touches ``opts``.
"""

from latent_upscale.options import Settings
from latent_upscale.webui.common import ATTR, TITLE, JobRecord, log
from latent_upscale.webui.hires import hires_method, hires_modes, install_hires
from latent_upscale.webui.job import install, restore, run_job
from latent_upscale.webui.redirect import redirect_interpolate
from latent_upscale.webui.schedule import ScheduleOverride, apply_schedule
from latent_upscale.webui.script import LatentUpscaleScript, setup
from latent_upscale.webui.xyz import register_xyz_axes

__all__ = [
    "ATTR",
    "TITLE",
    "JobRecord",
    "LatentUpscaleScript",
    "ScheduleOverride",
    "Settings",
    "apply_schedule",
    "hires_method",
    "hires_modes",
    "install",
    "install_hires",
    "log",
    "redirect_interpolate",
    "register_xyz_axes",
    "restore",
    "run_job",
    "setup",
]
