"""txt2img Hires. fix: the package's methods join the host's latent upscalers.

Methods the host's ``shared.latent_upscale_modes`` lacks join it as "Latent (<method>)": torch's
modes as plain entries the host runs itself, ours under a marker mode that a class-level
``StableDiffusionProcessingTxt2Img.sample_hr_pass`` wrapper redirects, only in passes whose
upscaler is one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from modules import processing, shared

from latent_upscale.interpolation import METHODS
from latent_upscale.webui.common import LOG_PREFIX, log
from latent_upscale.webui.hooks import hook
from latent_upscale.webui.redirect import call_size, redirect_interpolate

HIRES_MODE_PREFIX = "latent_upscale:"  # marker "mode" of our Hires upscalers torch lacks


def hires_modes(host_modes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Our methods the host's ``latent_upscale_modes`` lacks (by mode and antialias), its style.

    Torch modes become plain entries the host runs itself; our own kernels get the marker mode
    ``latent_upscale:<method>`` that only the ``sample_hr_pass`` wrapper understands.
    """
    offered = {
        (entry.get("mode"), bool(entry.get("antialias")))
        for entry in host_modes.values()
        if isinstance(entry, Mapping)
    }
    added: dict[str, dict[str, Any]] = {}
    for method in METHODS.values():
        mode = method.mode or f"{HIRES_MODE_PREFIX}{method.name}"
        if (mode, method.antialias) not in offered:
            added[f"Latent ({method.name})"] = {"mode": mode, "antialias": method.antialias}
    return added


def hires_method(latent_scale_mode: Any) -> str | None:
    """Our method named by a Hires ``latent_scale_mode`` entry, or None for any other entry."""
    mode = latent_scale_mode.get("mode") if isinstance(latent_scale_mode, Mapping) else None
    if not isinstance(mode, str) or not mode.startswith(HIRES_MODE_PREFIX):
        return None
    name = mode[len(HIRES_MODE_PREFIX) :]
    return name if name in METHODS else None


def install_hires() -> list[str]:
    """Add our Hires upscalers once; returns the hook points this host lacks for them."""
    cls = getattr(processing, "StableDiffusionProcessingTxt2Img", None)
    modes = getattr(shared, "latent_upscale_modes", None)
    missing = []
    if cls is None or not callable(getattr(cls, "sample_hr_pass", None)):
        missing.append("modules.processing.StableDiffusionProcessingTxt2Img.sample_hr_pass")
    if not isinstance(modes, dict):
        missing.append("the dict modules.shared.latent_upscale_modes")
    if missing:
        log(
            f"this WebUI lacks {' and '.join(missing)}; Hires. fix is left as it is "
            "(no extra latent upscalers)."
        )
        return missing
    hook(cls, "sample_hr_pass", _sample_hr_pass)
    added, taken = [], []
    for name, entry in hires_modes(modes).items():
        if name in modes:  # another extension's entry under our name: keep it
            taken.append(name)
            continue
        modes[name] = entry
        added.append(name)
    if added:
        log(f"Hires. fix latent upscalers added: {', '.join(added)}.")
    if taken:
        log(f"Hires. fix upscaler names already taken (left as they are): {', '.join(taken)}.")
    return []


def _sample_hr_pass(original: Callable, p: Any, samples: Any, *args: Any, **kwargs: Any) -> Any:
    method = hires_method(getattr(p, "latent_scale_mode", None))
    if method is None:
        return original(p, samples, *args, **kwargs)
    return _hires_pass(original, p, method, samples, args, kwargs)


def _hires_pass(
    original: Callable, p: Any, method: str, samples: Any, args: tuple, kwargs: dict
) -> Any:
    """The host's hires pass with its latent resize (marker mode ``method``) done by ``upscale``."""
    marker = f"{HIRES_MODE_PREFIX}{method}"

    def match(input: Any, call: dict[str, Any]) -> tuple[tuple[int, int], str] | None:
        if call.get("mode") != marker:
            return None
        size = call_size(call)
        if size is None or call.get("scale_factor") is not None or call.get("align_corners"):
            raise ValueError(
                f"{LOG_PREFIX} the Hires upscaler 'Latent ({method})' resizes to an explicit "
                f"size=(height, width) only; the WebUI called interpolate with {call}."
            )
        return size, method

    with redirect_interpolate(match) as hits:
        try:
            result = original(p, samples, *args, **kwargs)
        except Exception as exc:
            if hits[0] == 0 and marker in str(exc):  # torch got our marker mode: not redirected
                raise _no_hires_resize(method) from exc
            raise
    if hits[0] == 0 and not getattr(getattr(shared, "state", None), "interrupted", False):
        raise _no_hires_resize(method)
    return result


def _no_hires_resize(method: str) -> RuntimeError:
    """The error for a host whose Hires. fix resize call could not be redirected."""
    return RuntimeError(
        f"{LOG_PREFIX} the WebUI's Hires. fix made no latent resize call that could use "
        f"upscaler 'Latent ({method})' (torch.nn.functional.interpolate(samples, size=..., "
        f"mode='{HIRES_MODE_PREFIX}{method}')). This WebUI version changed that code; please "
        "report it with your WebUI version, and use another Hires upscaler meanwhile."
    )
