"""The script's Gradio controls, for Gradio 3.41 (A1111, reForge, Classic) and 4.40 (Forge).

Only components and keyword arguments that both major versions accept; every component has an
explicit valid value (the HTTP API calls ``ui()`` again to collect default arguments). No WebUI
import here: the host adapter passes its ``elem_id`` function in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from latent_upscale import options, passes
from latent_upscale.interpolation import METHODS
from latent_upscale.schedules import SCHEDULES

__all__ = ["Controls", "build", "infotext_fields"]

METHOD_INFO = (
    "How 'Just resize (latent upscale)' resizes the latent. nearest-exact (the default) keeps the "
    "most detail but leaves blocks for the sampler to repaint: use denoise 0.5 or more; bislerp "
    "and lanczos keep texture without blocks; bilinear/bicubic (the WebUI's own is bilinear) "
    "are smoother."
)
SCHEDULER_INFO = (
    "The noise schedule the sampler runs. Simple or Normal are safe all-round; Karras or "
    "Exponential keep fine detail at low denoise; Automatic keeps the WebUI's own schedule type. "
    "DDIM, PLMS and UniPC ignore it."
)
FULL_STEPS_INFO = (
    "Run exactly the Sampling steps slider at any denoise, as Hires. fix does. Off: the WebUI's "
    "own rule (about steps x denoise)."
)

# one line each; the sliders are stacked at full width (side by side, the script panel's narrow
# columns wrapped their help texts to different heights)
SCALE_INFO = (
    "0: the width and height above. Otherwise the init image's size times this, rounded to 8s."
)
PASSES_INFO = "Reach that size in this many latent passes (geometric steps), each one denoised."
LATER_DENOISE_INFO = "Denoising strength of passes 2 and later; pass 1 uses the job's own."


@dataclass
class Controls:
    """The script's components, in the order of the script's arguments."""

    method: Any
    scheduler: Any
    full_steps: Any
    scale: Any
    passes: Any
    later_denoise: Any

    def as_list(self) -> list[Any]:
        """Components in argument order (``options.ARGUMENTS``)."""
        return [
            self.method,
            self.scheduler,
            self.full_steps,
            self.scale,
            self.passes,
            self.later_denoise,
        ]


def build(elem_id: Callable[[str], str] = str) -> Controls:
    """Create the controls inside the current Gradio layout."""
    import gradio as gr  # only where a UI is built

    with gr.Row():
        method = gr.Dropdown(
            label="Upscale method",
            choices=[m.label for m in METHODS.values()],
            value=options.method_label(options.DEFAULT_METHOD),
            info=METHOD_INFO,
            elem_id=elem_id("method"),
        )
        scheduler = gr.Dropdown(
            label="Scheduler",
            choices=[s.label for s in SCHEDULES.values()],
            value=options.scheduler_label(options.DEFAULT_SCHEDULER),
            info=SCHEDULER_INFO,
            elem_id=elem_id("scheduler"),
        )
    full_steps = gr.Checkbox(
        label="Run the full number of steps",
        value=options.DEFAULT_FULL_STEPS,
        info=FULL_STEPS_INFO,
        elem_id=elem_id("full_steps"),
    )
    scale = gr.Slider(
        label="Upscale by",
        minimum=0.0,
        maximum=4.0,
        step=0.05,
        value=options.DEFAULT_SCALE,
        info=SCALE_INFO,
        elem_id=elem_id("scale"),
    )
    passes_ = gr.Slider(
        label="Passes",
        minimum=1,
        maximum=passes.MAX_PASSES,
        step=1,
        value=options.DEFAULT_PASSES,
        info=PASSES_INFO,
        elem_id=elem_id("passes"),
    )
    later = gr.Slider(
        label="Later denoise",
        minimum=0.0,
        maximum=1.0,
        step=0.01,
        value=options.DEFAULT_LATER_DENOISE,
        info=LATER_DENOISE_INFO,
        elem_id=elem_id("later_denoise"),
    )
    return Controls(method, scheduler, full_steps, scale, passes_, later)


def infotext_fields(controls: Controls) -> list[tuple[Any, Callable[[dict], Any]]]:
    """``Script.infotext_fields``: pasting an image's parameters restores the controls."""
    return [
        (controls.method, options.paste_method),
        (controls.scheduler, options.paste_scheduler),
        (controls.full_steps, options.paste_full_steps),
        (controls.scale, options.paste_scale),
        (controls.passes, options.paste_passes),
        (controls.later_denoise, options.paste_later_denoise),
    ]
