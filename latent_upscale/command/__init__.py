"""The ``latent-upscale`` command (``python -m latent_upscale``): no WebUI, model or GPU needed.

Modules: ``cli`` (arguments, exit codes, output), ``schedule`` (what an img2img job runs, from
:func:`latent_upscale.steps.plan_img2img`), ``compare`` (one latent resized by every method,
with size limits), ``preview`` (latent files, a synthetic latent, metrics, RGB preview) and
``plotting`` (the figures; matplotlib is imported only there, and only when drawing). The
WebUI extension never imports this package.
"""

from __future__ import annotations

from latent_upscale.command.cli import main

__all__ = ["main"]
