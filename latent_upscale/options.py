"""The WebUI script's settings: parsing, validation, defaults and infotext keys.

Pure: no WebUI or Gradio import, so the rules the extension applies to UI values, API arguments,
X/Y/Z values and pasted infotext are testable on their own. ``latent_upscale.webui`` (the host
adapter) and ``latent_upscale.ui`` (the Gradio controls) build on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from latent_upscale import passes as _passes
from latent_upscale.interpolation import METHODS
from latent_upscale.schedules import SCHEDULES, resolve_schedule

__all__ = [
    "AUTOMATIC",
    "DEFAULT_FULL_STEPS",
    "DEFAULT_METHOD",
    "DEFAULT_SCHEDULER",
    "HOST_BEHAVIOUR",
    "KEY_FULL_STEPS",
    "KEY_LATER_DENOISE",
    "KEY_METHOD",
    "KEY_PASSES",
    "KEY_SCALE",
    "KEY_SCHEDULER",
    "Settings",
    "infotext_params",
    "method_label",
    "parse_args",
    "parse_bool",
    "paste_full_steps",
    "paste_later_denoise",
    "paste_method",
    "paste_passes",
    "paste_scale",
    "paste_scheduler",
    "resolve_method",
    "resolve_scheduler",
    "scheduler_label",
]

KEY_METHOD = "Latent upscale method"
KEY_SCHEDULER = "Latent upscale scheduler"
KEY_FULL_STEPS = "Latent upscale full steps"
KEY_SCALE = "Latent upscale by"
KEY_PASSES = "Latent upscale passes"
KEY_LATER_DENOISE = "Latent upscale later denoise"

DEFAULT_METHOD = "nearest-exact"
DEFAULT_SCHEDULER = "simple"
DEFAULT_FULL_STEPS = True
DEFAULT_SCALE = _passes.DEFAULT_SCALE
DEFAULT_PASSES = _passes.DEFAULT_PASSES
DEFAULT_LATER_DENOISE = _passes.DEFAULT_LATER_DENOISE
ARGUMENTS = ("method", "scheduler", "full steps", "upscale by", "passes", "later denoise")

AUTOMATIC = "automatic"  # the WebUI's own schedule choice: the script leaves the schedule alone

_TRUE = frozenset({"true", "yes", "on", "1", "y", "t"})
_FALSE = frozenset({"false", "no", "off", "0", "n", "f", ""})


@dataclass(frozen=True)
class Settings:
    """One job's choices, stored on the WebUI's processing object (canonical names)."""

    method: str = DEFAULT_METHOD
    scheduler: str = DEFAULT_SCHEDULER
    full_steps: bool = DEFAULT_FULL_STEPS
    scale: float = DEFAULT_SCALE  # "Upscale by": 0 keeps the job's width and height
    passes: int = DEFAULT_PASSES
    later_denoise: float = DEFAULT_LATER_DENOISE  # denoising strength of passes 2, 3, ...

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", resolve_method(self.method))
        object.__setattr__(self, "scheduler", resolve_scheduler(self.scheduler))
        object.__setattr__(self, "full_steps", parse_bool(self.full_steps, "full steps"))
        object.__setattr__(self, "scale", _passes.check_scale(_number(self.scale, "upscale by")))
        object.__setattr__(self, "passes", _passes.check_passes(_number(self.passes, "passes")))
        later = _number(self.later_denoise, "later passes' denoise")
        object.__setattr__(self, "later_denoise", _passes.check_later_denoise(later))

    @property
    def multipass(self) -> bool:
        """Whether the job scales by a factor or runs more than one pass."""
        return self.scale != DEFAULT_SCALE or self.passes != DEFAULT_PASSES


def _number(value: object, what: str) -> object:
    """A number from the UI, the API, X/Y/Z or infotext text (strings are parsed)."""
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise ValueError(f"Latent Upscale: {what} must be a number, got {value!r}") from None
    return value


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
    """Settings from the script's positional arguments, in the UI's order: method, scheduler,
    full steps, upscale by, passes, later denoise.

    Missing or None arguments take the defaults (the HTTP API may send fewer or nulls); extra
    arguments are refused so that shifted argument lists are noticed.
    """
    args = list(args)
    if len(args) > len(ARGUMENTS):
        raise ValueError(
            f"Latent Upscale: expected at most {len(ARGUMENTS)} script arguments "
            f"({', '.join(ARGUMENTS)}), got {len(args)}: {args!r}"
        )
    method, scheduler, full_steps, scale, passes, later = [*args, *[None] * len(ARGUMENTS)][
        : len(ARGUMENTS)
    ]
    return Settings(
        resolve_method(method),
        resolve_scheduler(scheduler),
        parse_bool(full_steps),
        DEFAULT_SCALE if scale is None else scale,
        DEFAULT_PASSES if passes is None else passes,
        DEFAULT_LATER_DENOISE if later is None else later,
    )


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
    if settings.scale != DEFAULT_SCALE:  # the new options only where they differ from defaults
        params[KEY_SCALE] = f"{settings.scale:g}"
    if settings.passes != DEFAULT_PASSES:
        params[KEY_PASSES] = str(settings.passes)
        if settings.later_denoise != DEFAULT_LATER_DENOISE:
            params[KEY_LATER_DENOISE] = f"{settings.later_denoise:g}"
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


def _paste_number(params: Mapping[str, Any], key: str, check: Any, default: Any) -> Any:
    """A number control's value for pasted ``params``: the default where the key is absent from
    a Latent Upscale job's infotext (it omits these options at their defaults); unchanged (None)
    where the value is invalid or the infotext is not from a Latent Upscale job."""
    value = params.get(key)
    if value is None:
        return default if KEY_SCHEDULER in params else None
    try:
        return check(_number(value, key))
    except ValueError:
        return None


def paste_scale(params: Mapping[str, Any]) -> float | None:
    """The "Upscale by" control's value for pasted infotext ``params``."""
    return _paste_number(params, KEY_SCALE, _passes.check_scale, DEFAULT_SCALE)


def paste_passes(params: Mapping[str, Any]) -> int | None:
    """The "Passes" control's value for pasted infotext ``params``."""
    return _paste_number(params, KEY_PASSES, _passes.check_passes, DEFAULT_PASSES)


def paste_later_denoise(params: Mapping[str, Any]) -> float | None:
    """The later passes' denoise control's value for pasted infotext ``params``."""
    return _paste_number(
        params, KEY_LATER_DENOISE, _passes.check_later_denoise, DEFAULT_LATER_DENOISE
    )


# what the WebUI does by itself (bilinear resize, its own schedule and step rule): the base that
# X/Y/Z axes change one field of when the script itself is not selected
HOST_BEHAVIOUR = Settings("bilinear", AUTOMATIC, False)
