"""Run by the WebUI at launch (``python install.py``): nothing to install on a normal host.

The extension needs only torch, numpy and scipy, which every WebUI (A1111, Forge, reForge,
Classic) already ships. Should scipy be missing, it is installed through the WebUI's own pip
helper, which does nothing when the WebUI runs with ``--skip-install``.
"""

from __future__ import annotations

import importlib.util

# import name -> pip requirement, for what a host might lack (torch and numpy come with every host)
REQUIREMENTS = {"scipy": "scipy"}


def missing_requirements() -> list[str]:
    """The pip requirements whose modules cannot be found."""
    return [req for name, req in REQUIREMENTS.items() if importlib.util.find_spec(name) is None]


def main() -> None:
    """Install what is missing, the WebUI's way (respects ``--skip-install``)."""
    missing = missing_requirements()
    if not missing:
        return
    try:
        import launch  # the WebUI's module, on PYTHONPATH when the WebUI runs this file
    except ImportError:
        print(
            f"Latent Upscale: please install {' '.join(missing)} (pip install {' '.join(missing)})"
        )
        return
    if getattr(getattr(launch, "args", None), "skip_install", False):
        print(f"Latent Upscale: --skip-install is set; not installing {', '.join(missing)}")
        return
    for requirement in missing:
        launch.run_pip(f"install {requirement}", f"Latent Upscale requirement: {requirement}")


if __name__ == "__main__":
    main()
