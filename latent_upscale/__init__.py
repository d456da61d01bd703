"""Exact latent resize methods and sigma schedules for img2img latent upscaling.

Pure torch: nothing in this package imports the WebUI except ``latent_upscale.webui``,
the host adapter, which the extension's script loads inside a WebUI.
"""

from latent_upscale.interpolation import METHODS, Method, upscale
from latent_upscale.schedules import SCHEDULES, Schedule, get_sigmas
from latent_upscale.steps import img2img_sigmas, img2img_steps, plan_img2img
from latent_upscale.tables import discrete_sigmas

__version__ = "0.1.0"

__all__ = [
    "METHODS",
    "SCHEDULES",
    "Method",
    "Schedule",
    "__version__",
    "discrete_sigmas",
    "get_sigmas",
    "img2img_sigmas",
    "img2img_steps",
    "plan_img2img",
    "upscale",
]
