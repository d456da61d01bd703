"""The img2img job: hooks on the host's init, step rule and sampling, and the script's run.

- a class-level wrapper of ``StableDiffusionProcessingImg2Img.init`` that, only for jobs that
  carry settings on the processing object, redirects the single bilinear interpolate call that
  resizes ``init_latent`` (resize mode 3) to :func:`latent_upscale.upscale`, then sets the
  job's schedule;
- a wrapper of the module attribute ``sd_samplers_common.setup_img2img_steps`` (full steps);
- a class-level wrapper of ``StableDiffusionProcessingImg2Img.sample`` that puts the user's
  fields back as soon as our sampling is done, and checks that what the settings ask for ran.

The wrappers are installed once and call the implementation of the package imported last, so
a second import of this package while the host keeps the wrapped classes still runs
the current code. Nothing here touches ``opts``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from modules import processing, sd_samplers_common

from latent_upscale import __version__, options
from latent_upscale.options import Settings
from latent_upscale.schedules import SCHEDULES
from latent_upscale.steps import MAX_SCHEDULE_LENGTH, check_schedule_length, runs_full_steps
from latent_upscale.webui import passes
from latent_upscale.webui.common import (
    ATTR,
    LOG_PREFIX,
    RECORD,
    TITLE,
    JobRecord,
    comment,
    job_record,
    job_settings,
    log,
)
from latent_upscale.webui.hooks import hook
from latent_upscale.webui.redirect import call_size, redirect_interpolate
from latent_upscale.webui.schedule import apply_schedule

LATENT_RESIZE_MODE = 3  # img2img "Just resize (latent upscale)"
RESIZE_MODE_NAMES = (
    "Just resize",
    "Crop and resize",
    "Resize and fill",
    "Just resize (latent upscale)",
)
# infotext entries the host writes when it computes the schedule itself
HOST_SCHEDULE_KEYS = (
    "Schedule type",
    "Schedule min sigma",
    "Schedule max sigma",
    "Schedule rho",
    "Beta schedule alpha",
    "Beta schedule beta",
)
INIT = "modules.processing.StableDiffusionProcessingImg2Img.init"
SAMPLE = "modules.processing.StableDiffusionProcessingImg2Img.sample"
STEPS = "modules.sd_samplers_common.setup_img2img_steps"

missing: list[str] = []  # hook points this host lacks (the script refuses to run)


# ---------------------------------------------------------------------------------------------
# Installation (idempotent; a second import points the installed wrappers at its code)


def install() -> list[str]:
    """Install the img2img hooks; returns the hook points this host lacks (empty when all fine)."""
    cls = getattr(processing, "StableDiffusionProcessingImg2Img", None)
    found = {
        INIT: cls is not None and callable(getattr(cls, "init", None)),
        SAMPLE: cls is not None and callable(getattr(cls, "sample", None)),
        STEPS: callable(getattr(sd_samplers_common, "setup_img2img_steps", None)),
    }
    missing[:] = [name for name, ok in found.items() if not ok]
    if missing:
        log(f"this WebUI lacks {', '.join(missing)}; the script is disabled on this host.")
        return list(missing)
    new = hook(cls, "init", _init)
    new |= hook(cls, "sample", _sample)
    new |= hook(sd_samplers_common, "setup_img2img_steps", _setup_img2img_steps)
    if new:
        log(f"version {__version__}: img2img hooks installed.")
    return []


# ---------------------------------------------------------------------------------------------
# The hooks


def _init(original: Callable, p: Any, *args: Any, **kwargs: Any) -> Any:
    settings = job_settings(p)
    if settings is None:
        return original(p, *args, **kwargs)
    return _init_job(original, p, settings, args, kwargs)


def _setup_img2img_steps(original: Callable, p: Any, steps: int | None = None) -> Any:
    settings = job_settings(p)
    record = job_record(p)
    if settings is None or record is None or not record.sampling:
        return original(p, steps)  # not ours, or asked outside the job's own sampling
    if steps is None and _full_steps(p, settings):
        result = original(p, p.steps)  # an explicit count selects "exactly the slider's steps"
    else:
        result = original(p, steps)
    if int(result[0]) > MAX_SCHEDULE_LENGTH:  # a backstop: the job was checked before init
        raise ValueError(
            f"{LOG_PREFIX} the WebUI asks for a {int(result[0])}-step schedule "
            f"(the limit is {MAX_SCHEDULE_LENGTH} schedule steps)."
        )
    record.img2img_steps = (int(result[0]), int(result[1]))
    return result


def _sample(original: Callable, p: Any, *args: Any, **kwargs: Any) -> Any:
    record = job_record(p)
    if job_settings(p) is not None and (record is None or not record.initialized):
        raise RuntimeError(
            f"{LOG_PREFIX} the img2img job reached sampling without the extension's init hook "
            "(another extension replaced the job's init, or the WebUI keeps hooks from an "
            "older copy of the extension). Nothing was applied; restart the WebUI, or disable "
            "the other extension for this job."
        )
    if record is None or record.sampling:
        return original(p, *args, **kwargs)

    def sample_once() -> Any:
        record.enter(p)
        try:
            return original(p, *args, **kwargs)
        finally:
            record.leave(p)  # the user's fields for every later pass (ADetailer and others)
            record.samplings += 1

    if record.passes is None:
        samples = sample_once()
    else:
        samples = passes.sample(p, record.passes, sample_once)
    _check_sampling(p, record)
    return samples


def _check_length(p: Any, settings: Settings) -> bool:
    """The job's full-steps rule, after refusing a schedule past the length limit (for the
    first pass and, with several passes, the later passes' strength)."""
    chosen = _full_steps_chosen(settings)
    strengths = [p.denoising_strength]
    if settings.passes > 1:
        strengths.append(settings.later_denoise)
    try:
        for index, strength in enumerate(strengths):
            try:
                check_schedule_length(p.steps, strength, runs_full_steps(chosen, strength))
            except ValueError as exc:
                if index == 0:
                    raise
                text = str(exc).removeprefix(LOG_PREFIX).strip()
                raise ValueError(f"{LOG_PREFIX} later passes' denoise: {text}") from None
    except ValueError as exc:
        if chosen and not settings.full_steps:  # on through the WebUI's own setting
            raise ValueError(
                f"{exc} Full steps are on through the WebUI's setting \"With img2img, do "
                'exactly the amount of steps the slider specifies".'
            ) from None
        raise
    return runs_full_steps(chosen, p.denoising_strength)


def _full_steps(p: Any, settings: Settings) -> bool:
    """Whether this job runs full steps: the script's choice, or the WebUI's own setting "With
    img2img, do exactly the amount of steps the slider specifies", which the host applies
    whatever the script says (full steps at denoise 0 fall back to the WebUI's rule)."""
    return runs_full_steps(_full_steps_chosen(settings), p.denoising_strength)


def _full_steps_chosen(settings: Settings) -> bool:
    """Full steps asked for: by the script, or by the WebUI's exact-steps setting."""
    opts = getattr(_shared(), "opts", None)
    return settings.full_steps or bool(getattr(opts, "img2img_fix_steps", False))


def _check_sampling(p: Any, record: JobRecord) -> None:
    """After our sampling: say so where the WebUI's own schedule ran instead of ours."""
    if record.override is None or record.override_calls or record.reported:
        return
    if record.img2img_steps is None:
        return  # interrupted or failed before the sampler started: nothing ran
    record.reported = True
    schedule = record.override.schedule
    extra = dict(p.extra_generation_params)
    extra[options.KEY_SCHEDULER] = options.AUTOMATIC
    p.extra_generation_params = extra
    comment(
        p,
        f"the sampler never asked for the schedule override, so the WebUI's own schedule ran "
        f"instead of {SCHEDULES[schedule].label!r} (another extension may have replaced the "
        "sampler).",
    )


def _shared() -> Any:
    from modules import shared

    return shared


# ---------------------------------------------------------------------------------------------
# The job


def _init_job(original: Callable, p: Any, settings: Settings, args: tuple, kwargs: dict) -> Any:
    """The host's init with our resize, then our schedule and infotext for this job."""
    full = _check_length(p, settings)  # before any work
    previous = job_record(p)
    script = bool(previous.script) if previous is not None else False
    restore(p)  # a reused processing object starts from the user's own values
    record = JobRecord(p.extra_generation_params, script=script, initialized=True)
    vars(p)[RECORD] = record  # before any change, so a failure below is undone too
    latent_resize = getattr(p, "resize_mode", None) == LATENT_RESIZE_MODE
    if passes.needs_passes(p, settings, latent_resize):
        record.passes = passes.plan(p, settings, _full_steps_chosen(settings))

        def init() -> Any:
            if record.passes.masked:  # at the picture's own size: no latent resize there
                return original(p, *args, **kwargs)
            return _init_with_resize(original, p, settings.method, args, kwargs)

        result = passes.host_init(p, record.passes, init)
    elif latent_resize:
        result = _init_with_resize(original, p, settings.method, args, kwargs)
    else:
        if settings.multipass:
            comment(
                p,
                "upscale by and passes apply only with resize mode 'Just resize (latent "
                "upscale)'; this job ran at its own width and height in one pass.",
            )
        result = original(p, *args, **kwargs)
        mode = getattr(p, "resize_mode", None)
        name = RESIZE_MODE_NAMES[mode] if isinstance(mode, int) and 0 <= mode < 3 else repr(mode)
        comment(
            p,
            f"resize mode is {name!r}, not 'Just resize (latent upscale)': the upscale method is "
            "not used; the scheduler and step choices still apply.",
        )
    settings = dataclasses.replace(settings, full_steps=full)  # what runs
    if not latent_resize:  # no factor, one pass: what ran
        settings = dataclasses.replace(settings, scale=0.0, passes=1)
    used = apply_schedule(p, settings, record)
    extra = dict(p.extra_generation_params)  # never write into a dict that a copy of p shares
    if record.override is not None:  # the host's entries would describe a schedule not run
        for key in HOST_SCHEDULE_KEYS:
            extra.pop(key, None)
    extra.update(options.infotext_params(settings, method_used=latent_resize, scheduler_used=used))
    if record.script:  # pasting selects the script again (the WebUI reads the key "Script")
        extra["Script"] = TITLE
    p.extra_generation_params = extra
    resized = f"{settings.method} latent resize" if latent_resize else "no latent resize"
    if used == options.AUTOMATIC:
        schedule = "the WebUI's own schedule"
    else:
        schedule = f"{SCHEDULES[used].label} schedule"
    steps = "full step count" if settings.full_steps else "the WebUI's step rule"
    log(f"{resized}, {schedule}, {steps}.")
    if record.passes is not None:
        log(passes.describe(record.passes) + ".")
    return result


def _init_with_resize(original: Callable, p: Any, method: str, args: tuple, kwargs: dict) -> Any:
    """Run the host's init with its latent resize call (and only that call) redirected."""
    opt_f = getattr(processing, "opt_f", 8)
    size = (p.height // opt_f, p.width // opt_f)

    def match(input: Any, call: dict[str, Any]) -> tuple[tuple[int, int], str] | None:
        if input is getattr(p, "init_latent", None) and _is_latent_resize(call, size):
            return size, method
        return None

    with redirect_interpolate(match) as hits:
        result = original(p, *args, **kwargs)
    if hits[0] == 0:
        raise RuntimeError(
            f"{LOG_PREFIX} the WebUI's img2img init made no latent resize call "
            f"(interpolate(init_latent, size={size}, mode='bilinear')) although resize mode is "
            "'Just resize (latent upscale)'. This WebUI version changed that code; please report "
            "it with your WebUI version."
        )
    return result


def _is_latent_resize(call: dict[str, Any], size: tuple[int, int]) -> bool:
    """Whether interpolate's arguments are the host's resize-mode-3 call for ``size``."""
    return (
        call.get("mode", "nearest") == "bilinear"
        and call.get("scale_factor") is None
        and not call.get("align_corners")
        and not call.get("antialias")
        and call_size(call) == size
    )


def restore(p: Any) -> None:
    """Undo what the hooks changed on ``p`` (the user's override and infotext dict)."""
    record = vars(p).pop(RECORD, None)
    if record is None:
        return
    record.leave(p)
    p.extra_generation_params = record.extra_generation_params


# ---------------------------------------------------------------------------------------------
# Running a job from the script


def run_job(p: Any, settings: Settings, *, script: bool = True) -> Any:
    """Run ``p`` with ``settings``; returns the host's ``Processed``; leaves ``p`` as it was.

    ``script``: run as the selected script (its infotext says ``Script: Latent Upscale``).
    Refuses before any work where the host lacks a hook point or the job asks too much.
    """
    if missing:
        raise RuntimeError(
            f"{LOG_PREFIX} this WebUI lacks {', '.join(missing)}; the script cannot run here."
        )
    _check_length(p, settings)
    had = ATTR in vars(p)
    previous = vars(p).get(ATTR)
    size = p.width, p.height
    setattr(p, ATTR, settings)
    vars(p)[RECORD] = JobRecord(p.extra_generation_params, script=script)
    try:
        if settings.scale and getattr(p, "resize_mode", None) == LATENT_RESIZE_MODE:
            # the size the job returns, for every script that reads it before init (ControlNet)
            p.width, p.height = passes.target_size(p, settings)
        processed = processing.process_images(p)
        _check_job(p, settings)
        return processed
    finally:
        restore(p)
        p.width, p.height = size
        if had:
            setattr(p, ATTR, previous)
        else:
            vars(p).pop(ATTR, None)


def _check_job(p: Any, settings: Settings) -> None:
    """After the job: fail clearly where the extension's init hook did not run at all."""
    record = job_record(p)
    interrupted = getattr(getattr(_shared(), "state", None), "interrupted", False)
    if record is None or record.initialized or interrupted:
        return
    raise RuntimeError(
        f"{LOG_PREFIX} the job ran without the extension's init hook (another extension "
        "replaced the job's init, or the WebUI keeps hooks from an older copy of the "
        f"extension): {settings.method!r}, {settings.scheduler!r} and full steps were not "
        "applied. Restart the WebUI, or disable the other extension for this job."
    )
