"""X/Y/Z plot axes for the method, the scheduler and full steps (img2img)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import Any

from modules import scripts

from latent_upscale import options
from latent_upscale.interpolation import METHODS
from latent_upscale.schedules import SCHEDULES
from latent_upscale.webui.common import ATTR, job_settings, log

# (label, Settings field, value type, choices or None for typed-in numbers)
AXES: tuple[tuple[str, str, type, Callable[[], list[str]] | None], ...] = (
    ("[Latent Upscale] Method", "method", str, lambda: [m.label for m in METHODS.values()]),
    (
        "[Latent Upscale] Scheduler",
        "scheduler",
        str,
        lambda: [s.label for s in SCHEDULES.values()],
    ),
    ("[Latent Upscale] Full steps", "full_steps", str, lambda: ["True", "False"]),
    ("[Latent Upscale] Upscale by", "scale", float, None),
    ("[Latent Upscale] Passes", "passes", int, None),
    ("[Latent Upscale] Later denoise", "later_denoise", float, None),
)


def _number(field: str) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        return getattr(options.Settings(**{field: value}), field)  # the settings' own checks

    return parse


_AXIS_PARSERS: dict[str, Callable[[Any], Any]] = {
    "method": options.resolve_method,
    "scheduler": options.resolve_scheduler,
    "full_steps": lambda v: options.parse_bool(v, "full steps"),
    "scale": _number("scale"),
    "passes": _number("passes"),
    "later_denoise": _number("later_denoise"),
}


def _axis_value(field: str, value: Any) -> Any:
    return _AXIS_PARSERS[field](value)


def _axis_apply(field: str) -> Callable[[Any, Any, Any], None]:
    def apply(p: Any, value: Any, _values: Any) -> None:
        # Without the script selected, the other fields keep the WebUI's own behaviour, so an
        # axis changes only what it names (other axes may set the other fields).
        base = job_settings(p) or options.HOST_BEHAVIOUR
        setattr(p, ATTR, dataclasses.replace(base, **{field: _axis_value(field, value)}))

    return apply


def _axis_confirm(field: str) -> Callable[[Any, Sequence[Any]], None]:
    def confirm(_p: Any, values: Sequence[Any]) -> None:
        for value in values:
            _axis_value(field, value)  # raises ValueError listing the valid names

    return confirm


def _find_xyz() -> Any:
    for data in getattr(scripts, "scripts_data", []):
        path = os.path.basename(str(getattr(data, "path", "")))
        module_name = getattr(getattr(data, "script_class", None), "__module__", "")
        if path == "xyz_grid.py" or module_name in (
            "xyz_grid.py",
            "scripts.xyz_grid",
        ):
            return data.module
    return None


def register_xyz_axes(*, quiet: bool = False) -> bool:
    """Add our axes to the X/Y/Z plot (idempotent); False when the plot script is not found."""
    xyz = _find_xyz()
    if xyz is None or not hasattr(xyz, "axis_options"):
        if not quiet:
            log("X/Y/Z plot script not found; its Latent Upscale axes are not available.")
        return False
    axis_class = getattr(xyz, "AxisOptionImg2Img", None) or xyz.AxisOption
    present = {getattr(axis, "label", None) for axis in xyz.axis_options}
    for label, field, kind, choices in AXES:
        if label not in present:
            xyz.axis_options.append(
                axis_class(
                    label,
                    kind,
                    _axis_apply(field),
                    confirm=_axis_confirm(field),
                    choices=choices,
                )
            )
    return True
