"""The ``schedule`` command's data: what an img2img job runs, from :func:`plan_img2img`.

Both columns come from the one function that decides what a WebUI img2img job runs
(:func:`latent_upscale.steps.plan_img2img`): "latent-upscale" with the chosen schedule and full
steps, "webui-default" with the WebUI's Automatic schedule and its own step rule. Nothing here
recomputes step counts or slices. A multi-pass upscale (``--passes``, ``--scale``) is
:func:`latent_upscale.passes.plan_passes`, which runs :func:`plan_img2img` once per pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from latent_upscale.passes import Pass, plan_passes
from latent_upscale.schedules import AUTOMATIC, KDIFFUSION_SAMPLERS, SCHEDULES, discards_penultimate
from latent_upscale.steps import Img2ImgPlan, plan_img2img
from latent_upscale.tables import discrete_sigmas

DEFAULT_SAMPLER = "Euler"
OVERVIEW_STEPS = 30
OVERVIEW_DENOISE = 0.4

_SAMPLERS_FOLDED = {name.casefold(): name for name in KDIFFUSION_SAMPLERS}


def resolve_sampler(value: str) -> str:
    """The WebUI's name of a k-diffusion sampler, matched in any letter case."""
    name = _SAMPLERS_FOLDED.get(value.strip().casefold())
    if name is None:
        raise ValueError(
            f"unknown sampler {value!r}; valid samplers: {', '.join(KDIFFUSION_SAMPLERS)}"
        )
    return name


@dataclass(frozen=True)
class ScheduleRun:
    """One column of ``schedule``: a plan and how to name it."""

    label: str  # "latent-upscale" or "webui-default"
    plan: Img2ImgPlan
    sampler: str

    @property
    def sigmas(self) -> list[float]:
        return [float(v) for v in self.plan.sigmas.tolist()]

    @property
    def steps_run(self) -> int:
        return self.plan.steps_run

    @property
    def start(self) -> int:
        """Index of the first sigma that runs in the schedule the WebUI builds."""
        return self.plan.total - self.plan.t_enc - 1

    @property
    def name(self) -> str:
        """The schedule's name; Automatic names the sampler it stands for."""
        if self.plan.schedule == AUTOMATIC:
            return f"Automatic ({self.sampler})"
        return self.plan.schedule

    @property
    def rule(self) -> str:
        """Which step rule ran."""
        if self.plan.full_steps:
            return "full steps"
        return "steps x denoise"

    def as_json(self) -> dict:
        plan = self.plan
        return {
            "label": self.label,
            "scheduler": plan.schedule,
            "sampler": self.sampler,
            "full_steps": plan.full_steps,
            "total_steps": plan.total,
            "t_enc": plan.t_enc,
            "start": self.start,
            "steps_run": plan.steps_run,
            "sigmas": self.sigmas,
        }


def schedule_runs(
    scheduler: str,
    steps: int,
    denoise: float,
    full_steps: bool,
    *,
    model: str = "sd1",
    table_kind: str = "a1111",
    sampler: str = DEFAULT_SAMPLER,
) -> tuple[ScheduleRun, ScheduleRun]:
    """(what Latent Upscale runs, what the WebUI runs by default) for one img2img setting."""
    table = discrete_sigmas(table_kind)
    sdxl = model == "sdxl"
    ours = plan_img2img(scheduler, steps, denoise, full_steps, table, sampler=sampler, sdxl=sdxl)
    default = plan_img2img(AUTOMATIC, steps, denoise, False, table, sampler=sampler, sdxl=sdxl)
    return (
        ScheduleRun("latent-upscale", ours, sampler),
        ScheduleRun("webui-default", default, sampler),
    )


def describe_run(run: ScheduleRun) -> str:
    """One line: how many steps a run takes and where they come from."""
    return (
        f"{run.name}, {run.rule}: {run.steps_run} steps run, "
        f"from sigma #{run.start} of a {run.plan.total}-step schedule"
    )


def short_label(run: ScheduleRun) -> str:
    """Legend text for a run: schedule, step rule and steps run."""
    rule = "steps × denoise" if run.rule == "steps x denoise" else run.rule
    return f"{run.name}, {rule} → {run.steps_run} steps"


def sampler_note(sampler: str) -> str | None:
    """A note for samplers that make the WebUI drop the next-to-last sigma."""
    if discards_penultimate(sampler):
        return f"{sampler} asks for one sigma more and drops the next-to-last, as in the WebUI"
    return None


def format_schedule_table(ours: ScheduleRun, default: ScheduleRun) -> str:
    """Side-by-side table of the sigmas, one row per sigma index (``-`` where a run has ended)."""
    columns = (ours.sigmas, default.sigmas)
    rows = [f"{'sigma#':>6}  {ours.label:>15}  {default.label:>15}"]
    for i in range(max(len(c) for c in columns)):
        cells = [f"{c[i]:15.6f}" if i < len(c) else f"{'-':>15}" for c in columns]
        rows.append(f"{i:>6}  {cells[0]}  {cells[1]}")
    return "\n".join(rows)


def overview_series(
    steps: int = OVERVIEW_STEPS,
    denoise: float = OVERVIEW_DENOISE,
    *,
    model: str = "sd1",
    sampler: str = DEFAULT_SAMPLER,
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Every schedule at full denoise, and what runs at ``denoise`` with full steps."""
    table = discrete_sigmas("a1111")
    sdxl = model == "sdxl"
    full: dict[str, list[float]] = {}
    partial: dict[str, list[float]] = {}
    for name in SCHEDULES:
        for series, strength in ((full, 1.0), (partial, denoise)):
            plan = plan_img2img(name, steps, strength, True, table, sampler=sampler, sdxl=sdxl)
            series[name] = plan.sigmas.tolist()
    return full, partial


# --- several passes ----------------------------------------------------------------------------


def plan_job_passes(
    scheduler: str,
    steps: int,
    denoise: float,
    full_steps: bool,
    *,
    source: tuple[int, int],
    target: tuple[int, int],
    passes: int,
    later_denoise: float,
    model: str = "sd1",
    table_kind: str = "a1111",
    sampler: str = DEFAULT_SAMPLER,
) -> list[Pass]:
    """What each pass of a multi-pass upscale runs, from :func:`plan_passes` (one plan path)."""
    return plan_passes(
        scheduler,
        steps,
        denoise,
        full_steps,
        source=source,
        target=target,
        passes=passes,
        later_denoise=later_denoise,
        table=discrete_sigmas(table_kind),
        sampler=sampler,
        sdxl=model == "sdxl",
    )


def pass_start(item: Pass) -> int:
    """Index of the pass's first sigma in the schedule the WebUI builds."""
    return item.plan.total - item.plan.t_enc - 1


def pass_sigmas(item: Pass) -> list[float]:
    return [float(v) for v in item.sigmas.tolist()]


def pass_json(item: Pass) -> dict:
    """One entry of the ``passes`` list of ``schedule --json``."""
    latent_h, latent_w = item.latent_size
    return {
        "pass": item.index,
        "width": item.width,
        "height": item.height,
        "latent": [latent_h, latent_w],
        "denoise": item.denoise,
        "full_steps": item.plan.full_steps,
        "total_steps": item.plan.total,
        "t_enc": item.plan.t_enc,
        "start": pass_start(item),
        "steps_run": item.steps_run,
        "sigmas": pass_sigmas(item),
    }


def size_text(width: int, height: int) -> str:
    return f"{width}x{height}"


def pass_label(item: Pass, count: int) -> str:
    """``pass 1/2: 728x728 px -> latent 91x91`` (width x height)."""
    latent_h, latent_w = item.latent_size
    return (
        f"pass {item.index}/{count}: {size_text(item.width, item.height)} px -> "
        f"latent {size_text(latent_w, latent_h)}"
    )


def describe_pass(item: Pass, count: int) -> str:
    """One line per pass: sizes, denoise, steps run and where they start."""
    plan = item.plan
    rule = "full steps" if plan.full_steps else "steps x denoise"
    return (
        f"{pass_label(item, count)}, denoise {item.denoise:g}: {rule}, {item.steps_run} steps "
        f"run, from sigma #{pass_start(item)} of a {plan.total}-step schedule"
    )


def format_passes_table(plan: list[Pass]) -> str:
    """One column of sigmas per pass, one row per sigma index (``-`` where a pass has ended)."""
    columns = [pass_sigmas(item) for item in plan]
    rows = [f"{'sigma#':>6}" + "".join(f"  {f'pass {item.index}':>15}" for item in plan)]
    for i in range(max(len(c) for c in columns)):
        cells = [f"{c[i]:15.6f}" if i < len(c) else f"{'-':>15}" for c in columns]
        rows.append(f"{i:>6}" + "".join(f"  {cell}" for cell in cells))
    return "\n".join(rows)
