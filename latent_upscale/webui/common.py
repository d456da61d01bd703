"""Names, console lines and the per-job record shared by the adapter's modules."""

from __future__ import annotations

import dataclasses
from typing import Any

from latent_upscale.options import Settings

TITLE = "Latent Upscale"
LOG_PREFIX = "Latent Upscale:"
ATTR = "latent_upscale_settings"  # the job's settings, on the processing object
RECORD = "_latent_upscale_record"  # the job's JobRecord, on the processing object
_ABSENT = object()


def log(message: str) -> None:
    """Print a console line in the WebUI's style."""
    print(f"{LOG_PREFIX} {message}")


def comment(p: Any, message: str) -> None:
    """Tell the user: console, and the generation info under the gallery where the host has it."""
    log(message)
    add = getattr(p, "comment", None)
    if callable(add):
        add(f"{LOG_PREFIX} {message}")


def job_settings(p: Any) -> Settings | None:
    """The job's settings, or None for a job without the extension.

    Gated on the plain attribute, not on the class: if the package is imported again, the WebUI
    may keep hooks and X/Y/Z axes made by the earlier import, whose Settings is another class.
    """
    value = vars(p).get(ATTR) if hasattr(p, "__dict__") else None
    if value is None:
        return None
    if isinstance(value, Settings):
        return value
    try:
        return Settings(
            value.method,
            value.scheduler,
            value.full_steps,
            getattr(value, "scale", Settings.scale),
            getattr(value, "passes", Settings.passes),
            getattr(value, "later_denoise", Settings.later_denoise),
        )
    except AttributeError:
        return None


@dataclasses.dataclass
class JobRecord:
    """What the hooks did to one job: the user's values to restore, and what really ran.

    Fields the job's sampling needs (the schedule override) are set on the processing object
    only while the job's own ``sample`` call runs (:meth:`enter` / :meth:`leave`), so every
    other pass on it (ADetailer's, say) sees the user's values.
    """

    extra_generation_params: dict[str, Any]  # the job's own dict, put back by restore()
    script: bool = False  # run as the selected script (infotext "Script: Latent Upscale")
    initialized: bool = False  # the init hook ran for this job
    ours: dict[str, Any] = dataclasses.field(default_factory=dict)  # attr -> value to sample with
    saved: dict[str, Any] = dataclasses.field(default_factory=dict)  # attr -> user's value
    img2img_steps: tuple[int, int] | None = None  # (total, t_enc) the host computed
    override: Any = None  # the ScheduleOverride of the job, if any
    override_calls: int = 0
    sampling: bool = False  # inside the job's own sample call
    samplings: int = 0  # sample calls finished
    reported: bool = False  # the "override never asked" comment was made
    passes: Any = None  # the job's JobPasses (webui.passes) when it scales or has a mask

    def enter(self, p: Any) -> None:
        """Set our fields on ``p`` for the sampling, remembering the user's values."""
        for attr, value in self.ours.items():
            if attr not in self.saved:
                self.saved[attr] = vars(p).get(attr, _ABSENT)
            setattr(p, attr, value)
        self.sampling = True

    def leave(self, p: Any) -> None:
        """The user's values of everything :meth:`enter` changed."""
        self.sampling = False
        for attr, value in self.saved.items():
            if value is _ABSENT:
                vars(p).pop(attr, None)
            else:
                setattr(p, attr, value)
        self.saved.clear()

    @property
    def slice_start(self) -> int:
        """Where the host slices this job's schedule (0 before ``setup_img2img_steps``)."""
        if self.img2img_steps is None:
            return 0
        total, t_enc = self.img2img_steps
        return max(int(total) - int(t_enc) - 1, 0)


def job_record(p: Any) -> JobRecord | None:
    """The job's record (duck-typed across reloads), or None."""
    record = vars(p).get(RECORD) if hasattr(p, "__dict__") else None
    return record if hasattr(record, "extra_generation_params") else None
