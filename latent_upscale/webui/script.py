"""The img2img Script "Latent Upscale" and what the entry script does at load time."""

from __future__ import annotations

from typing import Any

from modules import script_callbacks, scripts

from latent_upscale import options, ui
from latent_upscale.webui.common import TITLE
from latent_upscale.webui.hires import install_hires
from latent_upscale.webui.job import install, run_job
from latent_upscale.webui.xyz import register_xyz_axes


class LatentUpscaleScript(scripts.Script):
    """Img2img script "Latent Upscale": method, scheduler and full steps for resize mode 3."""

    def title(self) -> str:
        return TITLE

    def show(self, is_img2img: bool) -> bool:
        return bool(is_img2img)

    def ui(self, is_img2img: bool) -> list[Any]:
        controls = ui.build(self.elem_id)
        self.infotext_fields = ui.infotext_fields(controls)
        return controls.as_list()

    def run(self, p: Any, *args: Any) -> Any:
        return run_job(p, options.parse_args(args))


def setup() -> None:
    """Everything the entry script does at load time (safe to repeat on "Reload UI")."""
    missing = install()
    install_hires()
    if not missing:
        # now, for servers started with --nowebui (they build the X/Y/Z script's UI before any
        # on_before_ui callback runs; the plot script is loaded before extensions' scripts) ...
        register_xyz_axes(quiet=True)
        # ... and again before the UI is built, for hosts that load it later
        script_callbacks.on_before_ui(register_xyz_axes)
