"""``python -m latent_upscale``: the standalone command (see ``latent_upscale.cli``)."""

from __future__ import annotations

import sys

from latent_upscale.cli import main

if __name__ == "__main__":
    sys.exit(main())
