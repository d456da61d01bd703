"""The host adapter: the only module of the project that imports the WebUI (``modules.*``).

It hooks at the narrowest points every host has (A1111 1.6-1.10, Forge, reForge, Forge Classic;
see the hosts notes in the project docs) and never copies host code:

- a class-level, idempotent wrapper of ``StableDiffusionProcessingImg2Img.init`` that, only for
  jobs carrying :class:`~latent_upscale.options.Settings` on the processing object, replaces the
  single bilinear ``torch.nn.functional.interpolate`` call that resizes ``init_latent`` (resize
  mode 3) by :func:`latent_upscale.upscale`, then chooses the schedule for the job;
- a wrapper of the module attribute ``sd_samplers_common.setup_img2img_steps`` (full steps);
- txt2img Hires. fix: the package's methods the host lacks join ``shared.latent_upscale_modes``
  as "Latent (<method>)"; torch's modes as plain entries, ours under a marker mode that a
  class-level ``StableDiffusionProcessingTxt2Img.sample_hr_pass`` wrapper redirects, only in
  passes whose upscaler is one of them;
- the schedule through the host's own per-job scheduler (``p.scheduler``) where the host has the
  same schedule with the same semantics, else through ``p.sampler_noise_scheduler_override``
  bound to the job's own ``sampler.model_wrap``.

Everything is gated per job, undone after it, and never touches ``opts``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch
from modules import processing, script_callbacks, scripts, sd_samplers_common, shared

from latent_upscale import __version__, options, ui
from latent_upscale.interpolation import METHODS, upscale
from latent_upscale.options import Settings
from latent_upscale.schedules import SCHEDULES, get_sigmas

__all__ = [
    "ATTR",
    "TITLE",
    "LatentUpscaleScript",
    "ScheduleOverride",
    "hires_method",
    "hires_modes",
    "install",
    "install_hires",
    "register_xyz_axes",
    "restore",
    "run_job",
]

TITLE = "Latent Upscale"
LOG_PREFIX = "Latent Upscale:"
ATTR = "latent_upscale_settings"  # Settings of the job, on the processing object
_RESTORE = "_latent_upscale_restore"  # what the init wrapper changed on the processing object
_MARK_INIT = "_latent_upscale_original_init"
_MARK_STEPS = "_latent_upscale_original_setup_img2img_steps"
_MARK_HIRES = "_latent_upscale_original_sample_hr_pass"
HIRES_MODE_PREFIX = "latent_upscale:"  # marker "mode" of our Hires upscalers torch lacks
LATENT_RESIZE_MODE = 3  # img2img "Just resize (latent upscale)"
RESIZE_MODE_NAMES = (
    "Just resize",
    "Crop and resize",
    "Resize and fill",
    "Just resize (latent upscale)",
)

# our schedule name -> (host Scheduler.name, host label) where WebUI 1.10's schedule of that label
# computes the same thing (our kl_optimal, beta, align_your_steps follow WebUI 1.10)
HOST_SCHEDULES: dict[str, tuple[str, str]] = {
    "uniform": ("uniform", "Uniform"),
    "karras": ("karras", "Karras"),
    "exponential": ("exponential", "Exponential"),
    "polyexponential": ("polyexponential", "Polyexponential"),
    "sgm_uniform": ("sgm_uniform", "SGM Uniform"),
    "kl_optimal": ("kl_optimal", "KL Optimal"),
    "align_your_steps": ("align_your_steps", "Align Your Steps"),
    "simple": ("simple", "Simple"),
    "normal": ("normal", "Normal"),
    "ddim_uniform": ("ddim", "DDIM"),
    "beta": ("beta", "Beta"),
}
# Schedules whose host version can return more than steps + 1 sigmas (DDIM's index grid), which
# the host's slice turns into more steps than the slider's: with full steps we compute them and
# keep the last steps + 1 (see fit_schedule)
_UNEVEN_WITH_FULL_STEPS = frozenset({"ddim_uniform"})
# infotext entries the host writes when it computes the schedule itself
_HOST_SCHEDULE_KEYS = (
    "Schedule type",
    "Schedule min sigma",
    "Schedule max sigma",
    "Schedule rho",
    "Beta schedule alpha",
    "Beta schedule beta",
)
_INTERPOLATE_ARGS = ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor")

_missing: list[str] = []


def log(message: str) -> None:
    """Print a console line in the WebUI's style."""
    print(f"{LOG_PREFIX} {message}")


def _comment(p: Any, message: str) -> None:
    """Tell the user: console, and the generation info under the gallery where the host has it."""
    log(message)
    comment = getattr(p, "comment", None)
    if callable(comment):
        comment(f"{LOG_PREFIX} {message}")


# ---------------------------------------------------------------------------------------------
# Installation (idempotent: scripts may be loaded again by "Reload UI")


def install() -> list[str]:
    """Install the hooks once; returns the hook points this host lacks (empty when all is fine)."""
    missing, wrapped = [], False
    cls = getattr(processing, "StableDiffusionProcessingImg2Img", None)
    if cls is None or not callable(getattr(cls, "init", None)):
        missing.append("modules.processing.StableDiffusionProcessingImg2Img.init")
    elif _MARK_INIT not in vars(cls):
        _wrap_init(cls)
        wrapped = True
    if not callable(getattr(sd_samplers_common, "setup_img2img_steps", None)):
        missing.append("modules.sd_samplers_common.setup_img2img_steps")
    elif not hasattr(sd_samplers_common, _MARK_STEPS):
        _wrap_setup_img2img_steps()
        wrapped = True
    _missing[:] = missing
    if missing:
        log(f"this WebUI lacks {', '.join(missing)}; the script is disabled on this host.")
    elif wrapped:
        log(f"version {__version__}: img2img hooks installed.")
    install_hires()
    return missing


def _wrap_init(cls: type) -> None:
    original = cls.init

    @functools.wraps(original)
    def init(self: Any, *args: Any, **kwargs: Any) -> Any:
        settings = getattr(self, ATTR, None)
        if not isinstance(settings, Settings):
            return original(self, *args, **kwargs)
        return _init_job(original, self, settings, args, kwargs)

    setattr(cls, _MARK_INIT, original)
    cls.init = init


def _wrap_setup_img2img_steps() -> None:
    original = sd_samplers_common.setup_img2img_steps

    @functools.wraps(original)
    def setup_img2img_steps(p: Any, steps: int | None = None) -> Any:
        settings = getattr(p, ATTR, None)
        if steps is None and isinstance(settings, Settings) and runs_full_steps(p, settings):
            result = original(p, p.steps)  # an explicit count selects "exactly the slider's steps"
        else:
            result = original(p, steps)
        record = vars(p).get(_RESTORE)
        if isinstance(record, dict):  # the job's (total, t_enc), for the schedule override
            record["img2img_steps"] = tuple(result)
        return result

    setattr(sd_samplers_common, _MARK_STEPS, original)
    sd_samplers_common.setup_img2img_steps = setup_img2img_steps


# ---------------------------------------------------------------------------------------------
# txt2img Hires. fix: more latent upscalers


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
    if _MARK_HIRES not in vars(cls):
        _wrap_sample_hr_pass(cls)
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


def _wrap_sample_hr_pass(cls: type) -> None:
    original = cls.sample_hr_pass

    @functools.wraps(original)
    def sample_hr_pass(self: Any, samples: Any, *args: Any, **kwargs: Any) -> Any:
        method = hires_method(getattr(self, "latent_scale_mode", None))
        if method is None:
            return original(self, samples, *args, **kwargs)
        return _hires_pass(original, self, method, samples, args, kwargs)

    setattr(cls, _MARK_HIRES, original)
    cls.sample_hr_pass = sample_hr_pass


def _hires_pass(
    original: Callable, p: Any, method: str, samples: Any, args: tuple, kwargs: dict
) -> Any:
    """The host's hires pass with its latent resize (marker mode ``method``) done by ``upscale``."""
    marker = f"{HIRES_MODE_PREFIX}{method}"

    def match(input: Any, call: dict[str, Any]) -> tuple[tuple[int, int], str] | None:
        if call.get("mode") != marker:
            return None
        size = _call_size(call)
        if size is None or call.get("scale_factor") is not None or call.get("align_corners"):
            raise ValueError(
                f"{LOG_PREFIX} the Hires upscaler 'Latent ({method})' resizes to an explicit "
                f"size=(height, width) only; the WebUI called interpolate with {call}."
            )
        return size, method

    with _redirect_interpolate(match) as hits:
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


# ---------------------------------------------------------------------------------------------
# The job


def runs_full_steps(p: Any, settings: Settings) -> bool:
    """Whether the job runs the slider's step count: chosen, and denoise above 0 (full steps
    at denoise 0 would be a 0-step schedule, so the WebUI's own rule runs instead)."""
    return settings.full_steps and getattr(p, "denoising_strength", 1.0) > 0


def _init_job(original: Callable, p: Any, settings: Settings, args: tuple, kwargs: dict) -> Any:
    """The host's init with our resize, then our schedule and infotext for this job."""
    restore(p)  # a reused processing object starts from the user's own values
    latent_resize = getattr(p, "resize_mode", None) == LATENT_RESIZE_MODE
    if latent_resize:
        result = _init_with_resize(original, p, settings.method, args, kwargs)
    else:
        result = original(p, *args, **kwargs)
        mode = getattr(p, "resize_mode", None)
        name = RESIZE_MODE_NAMES[mode] if isinstance(mode, int) and 0 <= mode < 3 else repr(mode)
        _comment(
            p,
            f"resize mode is {name!r}, not 'Just resize (latent upscale)': the upscale method is "
            "not used; the scheduler and step choices still apply.",
        )
    record: dict[str, Any] = {"extra_generation_params": p.extra_generation_params}
    vars(p)[_RESTORE] = record  # before any change, so a failure below is undone too
    settings = dataclasses.replace(settings, full_steps=runs_full_steps(p, settings))  # what runs
    used, overridden = _apply_schedule(p, settings, record)
    extra = dict(p.extra_generation_params)  # never write into a dict that a copy of p shares
    if overridden:  # the host's schedule entries would describe a schedule that did not run
        for key in _HOST_SCHEDULE_KEYS:
            extra.pop(key, None)
    extra.update(options.infotext_params(settings, method_used=latent_resize, scheduler_used=used))
    p.extra_generation_params = extra
    resized = f"{settings.method} latent resize" if latent_resize else "no latent resize"
    if used == options.AUTOMATIC:
        schedule = "the WebUI's own schedule"
    else:
        schedule = f"{SCHEDULES[used].label} schedule" + ("" if overridden else " (by the WebUI)")
    steps = "full step count" if settings.full_steps else "the WebUI's step rule"
    log(f"{resized}, {schedule}, {steps}.")
    return result


def _init_with_resize(original: Callable, p: Any, method: str, args: tuple, kwargs: dict) -> Any:
    """Run the host's init with its latent resize call (and only that call) redirected."""
    opt_f = getattr(processing, "opt_f", 8)
    size = (p.height // opt_f, p.width // opt_f)

    def match(input: Any, call: dict[str, Any]) -> tuple[tuple[int, int], str] | None:
        if input is getattr(p, "init_latent", None) and _is_latent_resize(call, size):
            return size, method
        return None

    with _redirect_interpolate(match) as hits:
        result = original(p, *args, **kwargs)
    if hits[0] == 0:
        raise RuntimeError(
            f"{LOG_PREFIX} the WebUI's img2img init made no latent resize call "
            f"(interpolate(init_latent, size={size}, mode='bilinear')) although resize mode is "
            "'Just resize (latent upscale)'. This WebUI version changed that code; please report "
            "it with your WebUI version."
        )
    return result


Match = Callable[[Any, dict[str, Any]], "tuple[tuple[int, int], str] | None"]


@contextlib.contextmanager
def _redirect_interpolate(match: Match) -> Iterator[list[int]]:
    """Within the block, interpolate calls that ``match`` maps to (size, method) run our resize.

    ``match(input, call)`` gets the call's arguments by name; the block gets a one-item list
    counting the redirected calls. ``torch.nn.functional.interpolate`` is restored on leaving,
    whatever happened inside.
    """
    functional = torch.nn.functional
    host_interpolate = functional.interpolate
    hits = [0]
    busy = False  # our own resize calls interpolate too: those go straight to torch

    def interpolate(input: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal busy
        call = None if busy else _interpolate_call(args, kwargs)
        found = None if call is None else match(input, call)
        if found is None:
            return host_interpolate(input, *args, **kwargs)
        hits[0] += 1
        busy = True
        try:
            return _resize(input, *found)
        finally:
            busy = False

    functional.interpolate = interpolate
    try:
        yield hits
    finally:
        if functional.interpolate is interpolate:
            functional.interpolate = host_interpolate


def _interpolate_call(args: tuple, kwargs: dict) -> dict[str, Any] | None:
    """interpolate's arguments after ``input`` by name, or None when they don't bind."""
    if len(args) > len(_INTERPOLATE_ARGS):
        return None
    call = dict(zip(_INTERPOLATE_ARGS, args, strict=False))
    if set(call) & set(kwargs):
        return None
    call.update(kwargs)
    if set(call) - {*_INTERPOLATE_ARGS, "antialias"}:
        return None
    return call


def _call_size(call: dict[str, Any]) -> tuple[int, int] | None:
    """The call's ``size`` as (height, width) ints, or None when it has no 2-D size."""
    try:
        size = tuple(int(s) for s in call.get("size"))  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    return size if len(size) == 2 else None  # type: ignore[return-value]


def _is_latent_resize(call: dict[str, Any], size: tuple[int, int]) -> bool:
    """Whether interpolate's arguments are the host's resize-mode-3 call for ``size``."""
    return (
        call.get("mode", "nearest") == "bilinear"
        and call.get("scale_factor") is None
        and not call.get("align_corners")
        and not call.get("antialias")
        and _call_size(call) == size
    )


def _resize(latent: torch.Tensor, size: tuple[int, int], method: str) -> torch.Tensor:
    """The latent resized by ``method``, checked to be what the host expects back."""
    if latent.dim() != 4:
        raise ValueError(
            f"{LOG_PREFIX} expects a 4-D latent [batch, channels, height, width], "
            f"got shape {tuple(latent.shape)}"
        )
    out = upscale(latent, size, method)
    if tuple(out.shape) != (*latent.shape[:2], *size):
        raise RuntimeError(
            f"{LOG_PREFIX} method {method!r} returned shape {tuple(out.shape)}, "
            f"expected {(*latent.shape[:2], *size)}"
        )
    return out.to(device=latent.device, dtype=latent.dtype)


# ---------------------------------------------------------------------------------------------
# Schedule


@dataclasses.dataclass(frozen=True)
class ScheduleOverride:
    """``p.sampler_noise_scheduler_override`` for one job, bound to that job's ``model_wrap``.

    The host calls it with the total schedule length (after ``setup_img2img_steps``, +1 for
    samplers that discard the penultimate sigma) and slices the result itself.
    """

    schedule: str
    model_wrap: Any = dataclasses.field(repr=False, compare=False)
    sdxl: bool = False
    full_steps: bool = False  # keep exactly the slider's step count (trim longer schedules)
    job: Any = dataclasses.field(default=None, repr=False, compare=False)

    def __call__(self, steps: int) -> torch.Tensor:
        table = self.model_wrap.sigmas  # ascending, as every host's wrappers keep it
        if steps <= 0:  # denoise 0 with full steps: nothing to sample
            return torch.zeros(1, device=table.device)
        # as it is: get_sigmas keeps float16/32/64 tables (a half model's coarse table is part of
        # what the host computes from it) and reads them on the CPU
        sigmas = get_sigmas(self.schedule, int(steps), table.detach(), sdxl=self.sdxl)
        sigmas = fit_schedule(sigmas, int(steps) + 1, self._slice_start(), trim=self.full_steps)
        return sigmas.to(table.device)  # where the host's own schedules are made (CPU on 1.10+)

    def _slice_start(self) -> int:
        """Where the host will slice this job's schedule (0 when unknown, e.g. txt2img)."""
        record = vars(self.job).get(_RESTORE) if self.job is not None else None
        run = record.get("img2img_steps") if isinstance(record, dict) else None
        if not run:
            return 0
        total, t_enc = run
        return max(int(total) - int(t_enc) - 1, 0)


def fit_schedule(
    sigmas: torch.Tensor, length: int, slice_start: int, *, trim: bool
) -> torch.Tensor:
    """``sigmas`` fitted to the host's unchecked contract of ``length`` entries, end kept.

    The host slices ``sigmas[slice_start:]`` and assumes ``length`` entries. With ``trim`` a
    longer schedule (DDIM's index grid) keeps its last ``length`` values, as ComfyUI's KSampler
    does, so the slider's step count runs; without, it stays as the host's own would be. A
    shorter one (ComfyUI's Beta merges repeated timesteps) is padded in front with its first
    value, but never into the slice, where a repeated sigma would be a zero-size step: then
    fewer steps run, as in ComfyUI.
    """
    if sigmas.numel() > length:
        return sigmas[-length:] if trim else sigmas
    pad = min(length - sigmas.numel(), slice_start)
    if pad <= 0:
        return sigmas
    return torch.cat([sigmas[:1].expand(pad), sigmas])


def _host_schedulers() -> dict[str, Any] | None:
    """The host's per-job scheduler registry (A1111 1.9+, Forge, reForge), or None."""
    try:
        from modules import sd_schedulers  # absent before A1111 1.9
    except ImportError:
        return None
    found = getattr(sd_schedulers, "schedulers_map", None)
    return found if isinstance(found, dict) else None


def host_label(schedule: str) -> str | None:
    """The host's label for ``schedule`` when it computes the same schedule, else None."""
    known = _host_schedulers()
    if known is None or schedule not in HOST_SCHEDULES:
        return None
    name, label = HOST_SCHEDULES[schedule]
    entry = known.get(label)
    same = getattr(entry, "name", None) == name and getattr(entry, "label", None) == label
    return label if same else None


def honours_schedules(sampler: Any) -> bool:
    """Whether ``sampler`` asks for sigmas (k-diffusion style) rather than fixed timesteps."""
    wrap = getattr(sampler, "model_wrap", None)
    return callable(getattr(sampler, "get_sigmas", None)) and hasattr(wrap, "sigmas")


def _set(p: Any, record: dict[str, Any], attr: str, value: Any) -> None:
    """Set ``p.attr``, remembering the user's value once in ``record``."""
    saved = record.setdefault("attrs", {})
    if attr not in saved:
        saved[attr] = vars(p).get(attr, _ABSENT)
    setattr(p, attr, value)


_ABSENT = object()


def _apply_schedule(p: Any, settings: Settings, record: dict[str, Any]) -> tuple[str, bool]:
    """Make the chosen schedule the one the sampler runs; (schedule that runs, overridden?)."""
    if settings.scheduler == options.AUTOMATIC:
        return options.AUTOMATIC, False
    label = SCHEDULES[settings.scheduler].label
    sampler = getattr(p, "sampler", None)
    if not honours_schedules(sampler):
        _comment(
            p,
            f"the sampler {getattr(p, 'sampler_name', '?')!r} uses fixed timesteps and ignores "
            f"custom schedules: scheduler {label!r} was not applied (the WebUI's own ran).",
        )
        return options.AUTOMATIC, False
    host = host_label(settings.scheduler)
    if settings.full_steps and settings.scheduler in _UNEVEN_WITH_FULL_STEPS:
        host = None
    if host is not None:  # the host computes it, pasteable, "Schedule type" stays true
        _set(p, record, "sampler_noise_scheduler_override", None)
        _set(p, record, "scheduler", host)
        return settings.scheduler, False
    sdxl = bool(getattr(getattr(p, "sd_model", None), "is_sdxl", False))
    override = ScheduleOverride(
        settings.scheduler, sampler.model_wrap, sdxl, full_steps=settings.full_steps, job=p
    )
    _set(p, record, "sampler_noise_scheduler_override", override)
    if getattr(p, "scheduler", None) is not None:  # 1.9+: infotext "Schedule type" is p.scheduler
        _set(p, record, "scheduler", None)
    return settings.scheduler, True


def restore(p: Any) -> None:
    """Undo what the init wrapper changed on ``p`` (the user's scheduler, override, infotext)."""
    record = vars(p).pop(_RESTORE, None)
    if not record:
        return
    for attr, value in record.get("attrs", {}).items():
        if value is _ABSENT:
            vars(p).pop(attr, None)
        else:
            setattr(p, attr, value)
    if "extra_generation_params" in record:
        p.extra_generation_params = record["extra_generation_params"]


# ---------------------------------------------------------------------------------------------
# Running a job from the script


def run_job(p: Any, settings: Settings) -> Any:
    """Run ``p`` with ``settings``; returns the host's ``Processed``; leaves ``p`` as it was."""
    if _missing:
        raise RuntimeError(
            f"{LOG_PREFIX} this WebUI lacks {', '.join(_missing)}; the script cannot run here."
        )
    had = ATTR in vars(p)
    previous = vars(p).get(ATTR)
    setattr(p, ATTR, settings)
    try:
        return processing.process_images(p)
    finally:
        restore(p)
        if had:
            setattr(p, ATTR, previous)
        else:
            vars(p).pop(ATTR, None)


# ---------------------------------------------------------------------------------------------
# X/Y/Z plot


AXES: tuple[tuple[str, str, Callable[[], list[str]]], ...] = (
    ("[Latent Upscale] Method", "method", lambda: [m.label for m in METHODS.values()]),
    ("[Latent Upscale] Scheduler", "scheduler", lambda: [s.label for s in SCHEDULES.values()]),
    ("[Latent Upscale] Full steps", "full_steps", lambda: ["True", "False"]),
)


_AXIS_PARSERS: dict[str, Callable[[Any], Any]] = {
    "method": options.resolve_method,
    "scheduler": options.resolve_scheduler,
    "full_steps": lambda v: options.parse_bool(v, "full steps"),
}


def _axis_value(field: str, value: Any) -> Any:
    return _AXIS_PARSERS[field](value)


def _axis_apply(field: str) -> Callable[[Any, Any, Any], None]:
    def apply(p: Any, value: Any, _values: Any) -> None:
        # Without the script selected, the other fields keep the WebUI's own behaviour, so an
        # axis changes only what it names (other axes may set the other fields).
        current = getattr(p, ATTR, None)
        base = current if isinstance(current, Settings) else options.HOST_BEHAVIOUR
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
    for label, field, choices in AXES:
        if label not in present:
            xyz.axis_options.append(
                axis_class(
                    label,
                    str,
                    _axis_apply(field),
                    confirm=_axis_confirm(field),
                    choices=choices,
                )
            )
    return True


# ---------------------------------------------------------------------------------------------
# The script


class LatentUpscaleScript(scripts.Script):
    """Img2img script "Latent Upscale": method, scheduler and full steps for resize mode 3."""

    def title(self) -> str:
        return TITLE

    def show(self, is_img2img: bool) -> bool:
        return bool(is_img2img)

    def ui(self, is_img2img: bool) -> list[Any]:
        controls = ui.build(self.elem_id)
        self.infotext_fields = ui.infotext_fields(controls)
        return controls.as_list()

    def run(self, p: Any, *args: Any) -> Any:
        return run_job(p, options.parse_args(args))


def setup() -> None:
    """Everything the entry script does at load time (safe to repeat on "Reload UI")."""
    missing = install()
    if not missing:
        # now, for servers started with --nowebui (they build the X/Y/Z script's UI before any
        # on_before_ui callback runs; the plot script is loaded before extensions' scripts) ...
        register_xyz_axes(quiet=True)
        # ... and again before the UI is built, for hosts that load it later
        script_callbacks.on_before_ui(register_xyz_axes)
