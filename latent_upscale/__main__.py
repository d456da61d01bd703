"""``python -m latent_upscale``: the standalone command (see ``latent_upscale.command``)."""

from __future__ import annotations

import sys

from latent_upscale.command.cli import main

if __name__ == "__main__":
    sys.exit(main())
