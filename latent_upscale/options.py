"""The WebUI script's settings: parsing, validation, defaults and infotext keys.

Pure: no WebUI or Gradio import, so the rules the extension applies to UI values, API arguments,
X/Y/Z values and pasted infotext are testable on their own. ``latent_upscale.webui`` (the host
adapter) and ``latent_upscale.ui`` (the Gradio controls) build on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from latent_upscale.interpolation import METHODS
from latent_upscale.schedules import SCHEDULES, resolve_schedule

__all__ = [
    "AUTOMATIC",
    "DEFAULT_FULL_STEPS",
    "DEFAULT_METHOD",
    "DEFAULT_SCHEDULER",
    "HOST_BEHAVIOUR",
    "KEY_FULL_STEPS",
    "KEY_METHOD",
    "KEY_SCHEDULER",
    "Settings",
    "infotext_params",
    "method_label",
    "parse_args",
    "parse_bool",
    "paste_full_steps",
    "paste_method",
    "paste_scheduler",
    "resolve_method",
    "resolve_scheduler",
    "scheduler_label",
]

KEY_METHOD = "Latent upscale method"
KEY_SCHEDULER = "Latent upscale scheduler"
KEY_FULL_STEPS = "Latent upscale full steps"

DEFAULT_METHOD = "nearest-exact"
DEFAULT_SCHEDULER = "simple"
DEFAULT_FULL_STEPS = True

AUTOMATIC = "automatic"  # the WebUI's own schedule choice: the script leaves the schedule alone

_TRUE = frozenset({"true", "yes", "on", "1", "y", "t"})
_FALSE = frozenset({"false", "no", "off", "0", "n", "f", ""})


@dataclass(frozen=True)
class Settings:
    """One job's choices, stored on the WebUI's processing object (canonical names)."""

    method: str = DEFAULT_METHOD
    scheduler: str = DEFAULT_SCHEDULER
    full_steps: bool = DEFAULT_FULL_STEPS

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", resolve_method(self.method))
        object.__setattr__(self, "scheduler", resolve_scheduler(self.scheduler))
        object.__setattr__(self, "full_steps", parse_bool(self.full_steps, "full steps"))


def _fold(text: str) -> str:
    return text.strip().casefold().replace("_", "-").replace(" ", "-")


def resolve_method(value: object) -> str:
    """Canonical method name for a name or label (case-insensitive); None gives the default."""
    if value is None:
        return DEFAULT_METHOD
    if isinstance(value, str):
        if value in METHODS:
            return value
        wanted = _fold(value)
        for name, info in METHODS.items():
            if wanted in (_fold(name), _fold(info.label)):
                return name
    raise ValueError(
        f"Latent Upscale: unknown upscale method {value!r}; valid methods: {', '.join(METHODS)}"
    )


def resolve_scheduler(value: object) -> str:
    """Canonical schedule name for a name, label or alias (case-insensitive); None: the default."""
    if value is None:
        return DEFAULT_SCHEDULER
    if isinstance(value, str):
        try:
            return resolve_schedule(value).name
        except ValueError:
            pass
    raise ValueError(
        f"Latent Upscale: unknown scheduler {value!r}; valid schedulers: {', '.join(SCHEDULES)} "
        f"(labels accepted too: {', '.join(s.label for s in SCHEDULES.values())})"
    )


def parse_bool(value: object, what: str = "value", default: bool = DEFAULT_FULL_STEPS) -> bool:
    """A checkbox value from the UI, the API, X/Y/Z or infotext text; None gives ``default``."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        folded = value.strip().casefold()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
    raise ValueError(f"Latent Upscale: {what} must be true or false, got {value!r}")


def parse_args(args: Sequence[object]) -> Settings:
    """Settings from the script's positional arguments (method, scheduler, full steps).

    Missing or None arguments take the defaults (the HTTP API may send fewer or nulls); extra
    arguments are refused so that shifted argument lists are noticed.
    """
    args = list(args)
    if len(args) > 3:
        raise ValueError(
            f"Latent Upscale: expected at most 3 script arguments (method, scheduler, full steps), "
            f"got {len(args)}: {args!r}"
        )
    method, scheduler, full_steps = [*args, None, None, None][:3]
    return Settings(resolve_method(method), resolve_scheduler(scheduler), parse_bool(full_steps))


def method_label(name: str) -> str:
    """The UI label of a method name."""
    return METHODS[resolve_method(name)].label


def scheduler_label(name: str) -> str:
    """The UI label of a schedule name."""
    return SCHEDULES[resolve_scheduler(name)].label


def infotext_params(
    settings: Settings, *, method_used: bool = True, scheduler_used: str | None = None
) -> dict[str, str]:
    """Infotext entries for a job: what actually ran, under the stable keys.

    ``method_used`` is False when the WebUI did not latent-resize (resize mode is not 3);
    ``scheduler_used`` names the schedule that reached the sampler (default: the chosen one).
    """
    used = settings.scheduler if scheduler_used is None else resolve_scheduler(scheduler_used)
    params = {KEY_SCHEDULER: used, KEY_FULL_STEPS: str(settings.full_steps)}
    if method_used:
        params = {KEY_METHOD: settings.method, **params}
    return params


def _pasted(params: Mapping[str, Any], key: str) -> str | None:
    value = params.get(key)
    return None if value is None else str(value)


def paste_method(params: Mapping[str, Any]) -> str | None:
    """The method control's value for pasted infotext ``params``; None leaves it unchanged."""
    value = _pasted(params, KEY_METHOD)
    try:
        return None if value is None else method_label(value)
    except ValueError:
        return None


def paste_scheduler(params: Mapping[str, Any]) -> str | None:
    """The scheduler control's value for pasted infotext ``params``; None leaves it unchanged."""
    value = _pasted(params, KEY_SCHEDULER)
    try:
        return None if value is None else scheduler_label(value)
    except ValueError:
        return None


def paste_full_steps(params: Mapping[str, Any]) -> bool | None:
    """The full-steps checkbox value for pasted infotext ``params``; None leaves it unchanged."""
    value = params.get(KEY_FULL_STEPS)
    try:
        return None if value is None else parse_bool(value, "full steps")
    except ValueError:
        return None


# what the WebUI does by itself (bilinear resize, its own schedule and step rule): the base that
# X/Y/Z axes change one field of when the script itself is not selected
HOST_BEHAVIOUR = Settings("bilinear", AUTOMATIC, False)
