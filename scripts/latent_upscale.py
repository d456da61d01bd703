"""WebUI entry point of the Latent Upscale extension: the script class comes from the package.

The package is imported here, at the top, while the WebUI has the extension root on sys.path.
"""

from latent_upscale import webui

webui.setup()

Script = webui.LatentUpscaleScript

__all__ = ["Script"]
