"""Stub of ``modules.ui``: the txt2img Hires. fix upscaler dropdown and its paste fields.

Built the way the WebUI builds it, after the extensions' scripts are loaded: the choices are the
latent upscale modes' names at that moment, then the pixel upscalers' names.
"""

from __future__ import annotations

from typing import Any

from modules import shared


def hires_upscaler_names() -> list[str]:
    """The host's expression for the Hires upscaler list (dropdown and X/Y/Z axis)."""
    return [*shared.latent_upscale_modes, *[x.name for x in shared.sd_upscalers]]


class Txt2ImgUI:
    """The parts of the txt2img tab the tests need."""

    def __init__(self) -> None:
        import gradio as gr  # the fake one unless a test asks for the real Gradio

        self.hr_upscaler = gr.Dropdown(
            label="Upscaler",
            choices=hires_upscaler_names(),
            value=shared.latent_upscale_default_mode,
        )
        self.paste_fields: list[tuple[Any, Any]] = [(self.hr_upscaler, "Hires upscaler")]


def create_txt2img_ui() -> Txt2ImgUI:
    return Txt2ImgUI()
