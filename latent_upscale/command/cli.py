"""The ``latent-upscale`` command: see schedules and resize methods without a WebUI or a GPU.

Subcommands: ``list`` (also the default), ``schedule``, ``compare``, ``figures``. Entry point
``main(argv) -> exit code``: 0 ok, 1 a runtime error, 2 invalid input or usage, 141 the output
pipe was closed early. Inputs are checked (names, numbers, sizes, schedule lengths) before
anything is computed; matplotlib is imported only when a picture is drawn.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import sys
import tempfile
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from latent_upscale import options
from latent_upscale import passes as ps
from latent_upscale.command import compare as cmp
from latent_upscale.command import preview as pv
from latent_upscale.command import schedule as sch
from latent_upscale.interpolation import METHODS
from latent_upscale.schedules import KDIFFUSION_SAMPLERS, SCHEDULES
from latent_upscale.steps import MAX_SCHEDULE_LENGTH, check_schedule_length
from latent_upscale.tables import TABLE_KINDS

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a producer whose reader went away

PLOT_INSTALL = ".venv/bin/pip install -e '.[plot]'"
FIGURE_FILES = {
    "schedule": "schedule-default-vs-full-steps.png",
    "overview": "schedulers-overview.png",
    "methods": "methods-compare.png",
    "passes": "multipass-2x-2-passes.png",
}
# The README's multi-pass figure is what this draws: schedule <these> --png FILE
PASSES_FIGURE_ARGS = ("--passes", "2", "--scale", "2", "--denoise", "0.6")

EXIT_CODES_EPILOG = f"""\
exit codes:
  0    success
  1    runtime error (e.g. matplotlib missing for a plot: from a clone of the repository,
       {PLOT_INSTALL}; a file that cannot be written)
  2    invalid input or usage (unknown option or name, bad number, a size or schedule over
       the limits, missing or malformed latent file); nothing is written in that case
  141  the output pipe was closed early (e.g. | head); the command stops quietly
"""


class UsageError(ValueError):
    """Invalid input from the user (exit code 2)."""


class OutputError(RuntimeError):
    """A file that cannot be written (exit code 1)."""


# --- argument types ----------------------------------------------------------------------------


def _argument_type(what: str, resolve: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type from a resolver that raises ValueError naming the valid values."""

    def parse(value: str) -> Any:
        try:
            return resolve(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix("Latent Upscale: ")) from None

    parse.__name__ = what  # argparse uses it in "invalid <name> value" messages
    return parse


_scheduler = _argument_type("scheduler", options.resolve_scheduler)
_method = _argument_type("method", options.resolve_method)
_sampler = _argument_type("sampler", sch.resolve_sampler)


def _method_list(value: str) -> list[str]:
    """``--methods a,b,c`` → validated method names, in the given order, without duplicates."""
    names = [_method(part) for part in value.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"no method given; choose from: {', '.join(METHODS)}")
    return list(dict.fromkeys(names))


def _whole(what: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high], named ``what`` in its error."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{what} must be in [{low}, {high:,}], got {number:,}")
        return number

    parse.__name__ = what
    return parse


def _in_range(what: str, low: float, high: float, *, open_low: bool) -> Callable[[str], float]:
    """An argparse type: a number in (low, high] or [low, high], named ``what`` in its error."""
    shown = f"{'(' if open_low else '['}{low:g}, {high:g}]"

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a number in {shown}, got {value!r}"
            ) from None
        inside = (low < number if open_low else low <= number) and number <= high
        if not inside:  # also NaN
            raise argparse.ArgumentTypeError(f"{what} must be in {shown}, got {number:g}")
        return number

    parse.__name__ = what
    return parse


def _number(value: str) -> object:
    """A command-line number as int or float; anything else as given (its validator names it)."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _validated(what: str, check: Callable[[object], Any]) -> Callable[[str], Any]:
    """An argparse type from a validator of :mod:`latent_upscale.passes` (its range message)."""
    return _argument_type(what, lambda value: check(_number(value)))


_steps = _whole("steps", 1, MAX_SCHEDULE_LENGTH)
_seed = _whole("seed", 0, 2**63 - 1)
_denoise = _in_range("denoise", 0.0, 1.0, open_low=False)  # a denoising strength, as the WebUI's
MAX_SCALE = 8.0
_scale = _in_range("scale", 0.0, MAX_SCALE, open_low=True)  # a resize factor
_passes = _validated("passes", ps.check_passes)
_upscale_by = _validated("scale", ps.check_scale)  # 0 = off
_later_denoise = _validated("later denoise", ps.check_later_denoise)
MAX_PIXEL_SIDE = cmp.MAX_SIDE * ps.SIZE_MULTIPLE  # image pixels per side (one latent pixel is 8)


def _two_sides(value: str, form: str) -> tuple[int, int]:
    """The two integers of ``AxB`` (``x`` or ``*``), in the order written; ``form`` names it."""
    parts = value.lower().replace("*", "x").split("x")
    try:
        first, second = (int(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {form}, got {value!r}") from None
    return first, second


def _size(value: str) -> tuple[int, int]:
    """``HxW`` (latent pixels) → (height, width), each side within the limit."""
    height, width = _two_sides(value, "HxW in latent pixels (e.g. 96x64)")
    if height < 1 or width < 1:
        raise argparse.ArgumentTypeError(f"size must be at least 1x1, got {value!r}")
    if max(height, width) > cmp.MAX_SIDE:
        raise argparse.ArgumentTypeError(
            f"size {value!r} is over the limit of {cmp.MAX_SIDE} latent pixels per side"
        )
    return height, width


def _pixel_size(value: str) -> tuple[int, int]:
    """``WxH`` (image pixels, as the WebUI's width and height) → (width, height), within limits."""
    width, height = _two_sides(value, "WxH in image pixels (e.g. 512x768)")
    low = ps.SIZE_MULTIPLE
    if not (low <= width <= MAX_PIXEL_SIDE and low <= height <= MAX_PIXEL_SIDE):
        raise argparse.ArgumentTypeError(
            f"each side must be in [{low}, {MAX_PIXEL_SIDE}] pixels "
            f"({cmp.MAX_SIDE} latent pixels), got {value!r}"
        )
    return width, height


def _png_path(value: str) -> Path:
    """An output ``.png`` path whose folder exists."""
    path = Path(value)
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"the output must be a .png file, got {value!r}")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is a folder, expected a .png file name")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"folder {str(path.parent)!r} does not exist")
    return path


def _out_dir(value: str) -> Path:
    """An output folder (created if missing) that is not an existing file."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} exists and is not a folder")
    return path


# --- output ------------------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    Any failure is an OutputError naming ``path`` (never the temporary name), and leaves
    nothing behind.
    """
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0) or type(exc).__name__
        raise OutputError(f"{path}: cannot be written ({reason})") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _plotting() -> Any:
    """The plotting module, after checking that matplotlib (the ``plot`` extra) is installed."""
    from latent_upscale.command import plotting

    plotting.require_matplotlib()
    return plotting


def _first_line(text: object) -> str:
    """First line of a description (registries may hold longer text)."""
    return str(text or "").strip().splitlines()[0] if str(text or "").strip() else ""


# --- list --------------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    """Print the resize methods and the schedules with their labels and descriptions."""
    out = sys.stdout
    for title, registry in (("Resize methods", METHODS), ("Schedules", SCHEDULES)):
        width = max(len(name) for name in registry) + 2
        label_width = max(len(str(info.label)) for info in registry.values()) + 2
        out.write(f"{title}:\n")
        for name, info in registry.items():
            line = f"  {name:<{width}}{info.label!s:<{label_width}}{_first_line(info.description)}"
            out.write(line.rstrip() + "\n")
        out.write("\n")
    out.write(
        "Commands: schedule, compare, figures, list (python -m latent_upscale <command> --help)\n"
    )
    return EXIT_OK


# --- schedule ----------------------------------------------------------------------------------


def _check_length(steps: int, denoise: float, full_steps: bool, what: str = "") -> None:
    """The schedule-length limit, as a usage error (checked before anything is computed)."""
    try:
        check_schedule_length(steps, denoise, full_steps)
    except ValueError as exc:
        raise UsageError(what + str(exc).removeprefix("Latent Upscale: ")) from None


def _multi_pass(args: argparse.Namespace) -> bool:
    """Whether ``schedule`` shows a multi-pass upscale (else exactly the one-pass output)."""
    return args.passes > 1 or args.scale > 0


def _target(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """The last pass's size: ``size`` times ``scale`` (rounded to 8s), or ``size`` at scale 0."""
    if scale == 0:
        return size
    target = ps.scaled_size(size, scale)
    if max(target) > MAX_PIXEL_SIDE:
        raise UsageError(
            f"{size[0]}x{size[1]} upscaled by {scale:g} is {target[0]}x{target[1]}, over the "
            f"limit of {MAX_PIXEL_SIDE} pixels ({cmp.MAX_SIDE} latent pixels) per side; "
            "lower --scale or --size"
        )
    return target


def _schedule_name(name: str, sampler: str) -> str:
    return f"Automatic ({sampler})" if name == "automatic" else name


def _schedule_runs(args: argparse.Namespace) -> tuple[sch.ScheduleRun, sch.ScheduleRun]:
    """(what Latent Upscale runs, the WebUI's default) for the command's one-pass settings."""
    return sch.schedule_runs(
        args.scheduler,
        args.steps,
        args.denoise,
        args.full_steps,
        model=args.model,
        table_kind=args.table,
        sampler=args.sampler,
    )


def _schedule_payload(
    args: argparse.Namespace, ours: sch.ScheduleRun, default: sch.ScheduleRun
) -> dict:
    """``schedule --json``'s one-pass keys: the settings and both runs."""
    settings = {
        "scheduler": args.scheduler,
        "steps": args.steps,
        "denoise": args.denoise,
        "full_steps": args.full_steps,
        "model": args.model,
        "table": args.table,
        "sampler": args.sampler,
    }
    return {
        "settings": settings,
        "latent_upscale": ours.as_json(),
        "webui_default": default.as_json(),
    }


def cmd_schedule(args: argparse.Namespace) -> int:
    """Print (and optionally plot) the sigmas that run, against the WebUI's default."""
    if _multi_pass(args):
        return _schedule_passes(args)  # checks every pass's length first
    _check_length(args.steps, args.denoise, args.full_steps)
    plotting = _plotting() if args.plot else None
    ours, default = _schedule_runs(args)
    note = sch.sampler_note(args.sampler)
    if args.json:
        print(json.dumps(_schedule_payload(args, ours, default), indent=2))
    else:
        print(
            f"img2img with {args.steps} steps at denoise {args.denoise:g} "
            f"({args.model.upper()} sigma table, {args.table})"
        )
        print(f"  latent-upscale: {sch.describe_run(ours)}")
        print(f"  webui-default:  {sch.describe_run(default)}")
        if args.full_steps and not ours.plan.full_steps:
            print("  note: full steps do not apply at denoise 0; the WebUI's own rule runs")
        if note:
            print(f"  note: {note}")
        print()
        print(sch.format_schedule_table(ours, default))
    if plotting is not None:
        title = (
            f"img2img, {args.steps} steps, denoise {args.denoise:g} "
            f"({args.model.upper()} table): what actually runs"
        )
        png = plotting.schedule_png(
            [
                (f"Latent Upscale: {sch.short_label(ours)}", ours.sigmas),
                (f"WebUI default: {sch.short_label(default)}", default.sigmas),
            ],
            title=title,
        )
        write_atomic(args.plot, png)
        if not args.json:
            print(f"\nwrote {args.plot} ({len(png) // 1024} KiB)")
    return EXIT_OK


def _passes_title(plan: list[ps.Pass], args: argparse.Namespace) -> str:
    """``512x512 -> 1024x1024 px (x2) in 2 passes: simple, 30 steps, full steps (SD1 table)``."""
    (width, height), target = args.size, plan[-1]
    factor = f" (x{args.scale:g})" if args.scale > 0 else " (--scale 0: no upscale)"
    rule = "full steps" if args.full_steps else "steps x denoise"
    return (
        f"{width}x{height} -> {target.width}x{target.height} px{factor} in "
        f"{len(plan)} pass{'es' if len(plan) > 1 else ''}: "
        f"{_schedule_name(args.scheduler, args.sampler)}, {args.steps} steps, {rule} "
        f"({args.model.upper()} table)"
    )


def _check_passes(args: argparse.Namespace) -> tuple[int, int]:
    """The target size, once every pass is within the limits (sizes, schedule lengths)."""
    _check_length(args.steps, args.denoise, args.full_steps)
    if args.passes > 1:
        _check_length(args.steps, args.later_denoise, args.full_steps, "later passes: ")
    return _target(args.size, args.scale)


def _passes_plan(args: argparse.Namespace, target: tuple[int, int] | None = None) -> list[ps.Pass]:
    """What each pass of ``schedule --passes/--scale`` runs; limits checked first unless the
    caller passes the ``target`` :func:`_check_passes` returned."""
    target = _check_passes(args) if target is None else target
    return sch.plan_job_passes(
        args.scheduler,
        args.steps,
        args.denoise,
        args.full_steps,
        source=args.size,
        target=target,
        passes=args.passes,
        later_denoise=args.later_denoise,
        model=args.model,
        table_kind=args.table,
        sampler=args.sampler,
    )


def _passes_png(plotting: Any, plan: list[ps.Pass], args: argparse.Namespace) -> bytes:
    """The multi-pass figure: each pass's sigmas (left) and its size (right)."""
    source = args.size
    series = [
        (
            f"pass {p.index}: {p.width}x{p.height}, denoise {p.denoise:g} → {p.steps_run} steps",
            sch.pass_sigmas(p),
        )
        for p in plan
    ]
    sizes = [(f"init image: {source[0]}x{source[1]} px", source[0], source[1])]
    for p in plan:
        latent_h, latent_w = p.latent_size
        label = f"pass {p.index}: {p.width}x{p.height} px, latent {latent_w}x{latent_h}"
        sizes.append((label, p.width, p.height))
    title = _passes_title(plan, args).replace(" -> ", " → ")
    return plotting.passes_png(series, sizes, title=title)


def _schedule_passes(args: argparse.Namespace) -> int:
    """``schedule`` with --passes or --scale: what each pass of a latent upscale runs."""
    target = _check_passes(args)  # before matplotlib is looked for
    plotting = _plotting() if args.plot else None
    plan = _passes_plan(args, target)
    total = sum(p.steps_run for p in plan)
    title = _passes_title(plan, args)
    if args.json:
        payload = _schedule_payload(args, *_schedule_runs(args))
        payload["settings"].update(
            size=list(args.size),
            scale=args.scale,
            target=[plan[-1].width, plan[-1].height],
            passes=args.passes,
            later_denoise=args.later_denoise,
        )
        payload["passes"] = [sch.pass_json(p) for p in plan]
        payload["steps_run_all_passes"] = total
        print(json.dumps(payload, indent=2))
    else:
        print(title)
        for p in plan:
            print(f"  {sch.describe_pass(p, len(plan))}")
        print(f"  total: {total} steps run across {len(plan)} pass{'es' if len(plan) > 1 else ''}")
        print("  sizes are width x height; each pass resizes the latent, then denoises it")
        if args.full_steps and any(not p.plan.full_steps for p in plan):
            print("  note: full steps do not apply at denoise 0; the WebUI's own rule runs")
        note = sch.sampler_note(args.sampler)
        if note:
            print(f"  note: {note}")
        print()
        print(sch.format_passes_table(plan))
    if plotting is not None:
        png = _passes_png(plotting, plan, args)
        write_atomic(args.plot, png)
        if not args.json:
            print(f"\nwrote {args.plot} ({len(png) // 1024} KiB)")
    return EXIT_OK


# --- compare -----------------------------------------------------------------------------------


def _json_numbers(values: dict[str, float]) -> dict[str, float | None]:
    """Metric values for JSON: NaN (undefined, e.g. no detail in the input) becomes null."""
    return {k: None if math.isnan(v) else v for k, v in values.items()}


def _load_input(path: str | None, seed: int) -> tuple[Any, str]:
    """The latent to compare (first of a batch) and a description of where it came from."""
    if path is None:
        return pv.synthetic_latent(seed=seed), f"synthetic latent (seed {seed})"
    try:
        latent = pv.load_latent(path, max_bytes=cmp.MAX_FILE_BYTES)
    except FileNotFoundError as exc:  # the user's input: invalid input, not a runtime error
        raise UsageError(str(exc)) from None
    note = f" (first of a batch of {latent.shape[0]})" if latent.shape[0] > 1 else ""
    return latent[:1], f"{path}{note}"


def cmd_compare(args: argparse.Namespace) -> int:
    """Resize one latent with every method; print metrics and optionally write a PNG grid."""
    latent, source = _load_input(args.latent, args.seed)
    size = cmp.target_size(latent.shape, args.scale, args.size)
    cmp.check_size(*latent.shape[1:], source)
    cmp.check_size(latent.shape[1], *size, "the output")
    plotting = _plotting() if args.out else None
    methods = args.methods or list(METHODS)
    comparison = cmp.compare_methods(
        latent, size, methods, source=source, skip_unavailable=args.methods is None
    )
    if not comparison.outputs:
        raise RuntimeError("no method could resize this latent here")
    channels = latent.shape[1]
    note = cmp.channel_note(channels)
    h, w = latent.shape[-2:]
    if args.json:
        payload = {
            "source": source,
            "input_size": [h, w],
            "output_size": list(size),
            "channels": channels,
            "grid_channels": min(channels, cmp.GRID_CHANNELS),
            "metrics": {m: _json_numbers(asdict(v)) for m, v in comparison.metrics.items()},
            "skipped": comparison.skipped,
        }
        print(json.dumps(payload, indent=2))
    else:
        print(f"{source}: {channels} channels, {h}x{w} -> {size[0]}x{size[1]}")
        if note:
            print(f"note: {note}")
        print()
        print(cmp.format_metrics_table(comparison))
        print()
        print("columns (details: python -m latent_upscale compare --help):")
        for name, text in pv.METRIC_HELP.items():
            print(f"  {name}: {text.split(';')[0]}")
    if plotting is not None:
        png = plotting.compare_png(
            latent,
            comparison.outputs,
            model=args.model,
            title=f"{source}: {h}x{w} -> {size[0]}x{size[1]} latent pixels",
        )
        write_atomic(args.out, png)
        if not args.json:
            print(f"\nwrote {args.out} ({len(png) // 1024} KiB)")
    return EXIT_OK


# --- figures -----------------------------------------------------------------------------------


def build_figures() -> dict[str, bytes]:
    """PNG bytes of every figure in ``assets/``, keyed by file name (deterministic)."""
    plotting = _plotting()
    ours, default = sch.schedule_runs("simple", 30, 0.4, True)
    figures = {
        FIGURE_FILES["schedule"]: plotting.schedule_png(
            [
                (f"Latent Upscale: {sch.short_label(ours)}", ours.sigmas),
                (f"WebUI default: {sch.short_label(default)}", default.sigmas),
            ],
            title="img2img, 30 steps, denoise 0.4 (SD1 table): what actually runs",
        )
    }
    full, partial = sch.overview_series()
    steps, denoise = sch.OVERVIEW_STEPS, sch.OVERVIEW_DENOISE
    figures[FIGURE_FILES["overview"]] = plotting.overview_png(
        full,
        partial,
        titles=(
            f"All schedules, {steps} steps (txt2img / denoise 1)",
            f"img2img denoise {denoise:g}, full steps: the {steps} steps run",
        ),
    )
    args = build_parser().parse_args(["schedule", *PASSES_FIGURE_ARGS])
    figures[FIGURE_FILES["passes"]] = _passes_png(plotting, _passes_plan(args), args)
    latent = pv.synthetic_latent()
    size = cmp.target_size(latent.shape, cmp.DEFAULT_SCALE, None)
    comparison = cmp.compare_methods(latent, size, list(METHODS), skip_unavailable=True)
    figures[FIGURE_FILES["methods"]] = plotting.compare_png(
        latent,
        comparison.outputs,
        model="sd1",
        title=f"Synthetic latent, 32x32 -> {size[0]}x{size[1]} latent pixels (x1.5)",
    )
    return figures


def cmd_figures(args: argparse.Namespace) -> int:
    """Regenerate every figure of the README into a folder."""
    figures = build_figures()
    for name, png in figures.items():
        path = args.out / name
        write_atomic(path, png)
        print(f"wrote {path} ({len(png) // 1024} KiB)")
    return EXIT_OK


# --- parser ------------------------------------------------------------------------------------


def _wrap(*parts: str) -> str:
    """Help text wrapped for the terminal (the raw formatter keeps our epilog layout)."""
    return textwrap.fill("".join(parts), 92)


def _prog() -> str:
    """Program name for usage lines: how the command was started."""
    argv0 = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return "python -m latent_upscale" if argv0 in ("__main__.py", "-m", "") else "latent-upscale"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``latent-upscale`` command."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=_prog(),
        description=_wrap(
            "See what Latent Upscale does before you generate: the sigmas an img2img run "
            "actually uses, and what each latent resize method does to a latent. "
            "No WebUI, model or GPU needed. Without a command: list methods and schedules."
        ),
        epilog=EXIT_CODES_EPILOG,
        formatter_class=formatter,
    )
    parser.set_defaults(func=cmd_list)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p_list = sub.add_parser(
        "list",
        help="list resize methods and schedules",
        description="List the resize methods and schedules: name, label, one-line description.",
        epilog=EXIT_CODES_EPILOG,
        formatter_class=formatter,
    )
    p_list.set_defaults(func=cmd_list)

    p_sched = sub.add_parser(
        "schedule",
        help="print (and plot) the sigmas an img2img run actually uses",
        description=_wrap(
            "Print, sigma by sigma, what an img2img run with this scheduler, step count, "
            "denoise and full-steps setting samples, next to what the WebUI does by default "
            "(Automatic schedule for the sampler, steps x denoise). Both come from the same "
            "plan the extension applies in the WebUI. Sigmas come from the standard SD1/SDXL "
            "discrete noise table computed from the beta schedule; no model weights. Defaults "
            "show the classic case: 30 steps at denoise 0.4 run 13 steps by default and 30 "
            f"with full steps. Schedules longer than {MAX_SCHEDULE_LENGTH:,} steps (full steps "
            "at a tiny denoise) are refused."
        )
        + "\n\n"
        + _wrap(
            "Several passes (--passes N and/or --scale F): an upscale of the --size image by F "
            "(sizes rounded to multiples of 8) in N passes, each resizing the latent "
            "geometrically (2x in 2 passes: about 1.41x, then 1.41x) and denoising it, pass 1 "
            "at --denoise and the others at --later-denoise. Printed per pass: its size in "
            "pixels and as a latent (width x height), denoise, steps run and sigmas (one "
            "column per pass), then the steps run across all passes; --png draws them."
        )
        + "\n\n"
        + _wrap(
            "JSON (--json): keys settings, latent_upscale and webui_default as for one pass "
            "(pass 1's denoise); with --passes or --scale also settings.size, scale, target, "
            "passes, later_denoise, steps_run_all_passes, and a list passes of per-pass objects "
            '{"pass", "width", "height", "latent": [height, width], "denoise", "full_steps", '
            '"total_steps", "t_enc", "start", "steps_run", "sigmas"} (sizes in image pixels; '
            "latent in latent pixels, torch order; start is the index of the first sigma run "
            "in the total_steps schedule)."
        ),
        epilog=EXIT_CODES_EPILOG,
        formatter_class=formatter,
    )
    p_sched.add_argument(
        "--scheduler",
        "-s",
        type=_scheduler,
        default="simple",
        metavar="NAME",
        help="schedule, by name, label or alias, any case (default: simple); one of: "
        + ", ".join(SCHEDULES),
    )
    p_sched.add_argument(
        "--steps",
        type=_steps,
        default=30,
        help=f"sampling steps slider, 1 to {MAX_SCHEDULE_LENGTH:,} (default: 30)",
    )
    p_sched.add_argument(
        "--denoise", type=_denoise, default=0.4, help="denoising strength in [0, 1] (default 0.4)"
    )
    p_sched.add_argument(
        "--full-steps",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run exactly --steps steps (default: on); --no-full-steps: steps x denoise",
    )
    p_sched.add_argument(
        "--model",
        choices=pv.MODELS,
        default="sd1",
        help="model family: picks the Align Your Steps table (default: sd1)",
    )
    p_sched.add_argument(
        "--table",
        choices=tuple(TABLE_KINDS),
        default="a1111",
        help="precision of the discrete sigma table (default: a1111, float32 as in the WebUI)",
    )
    p_sched.add_argument(
        "--sampler",
        type=_sampler,
        default=sch.DEFAULT_SAMPLER,
        metavar="NAME",
        help="the WebUI's k-diffusion sampler, any case (default: Euler): it picks the "
        "Automatic schedule, and DPM2, DPM2 a and DPM++ 3M SDE drop the next-to-last sigma; "
        f"one of: {', '.join(KDIFFUSION_SAMPLERS)}",
    )
    p_sched.add_argument(
        "--passes",
        type=_passes,
        default=ps.DEFAULT_PASSES,
        metavar="N",
        help=f"latent upscale in N passes, 1 to {ps.MAX_PASSES} (default: {ps.DEFAULT_PASSES})",
    )
    p_sched.add_argument(
        "--scale",
        type=_upscale_by,
        default=ps.DEFAULT_SCALE,
        metavar="F",
        help=f"upscale by F, 0 (off) or up to {ps.MAX_SCALE:g} (default: 0: the passes keep "
        "--size)",
    )
    p_sched.add_argument(
        "--size",
        type=_pixel_size,
        default=(512, 512),
        metavar="WxH",
        help="the init image's width x height in pixels, with --passes or --scale "
        f"(default: 512x512; each side up to {MAX_PIXEL_SIDE}, also after --scale)",
    )
    p_sched.add_argument(
        "--later-denoise",
        type=_later_denoise,
        default=ps.DEFAULT_LATER_DENOISE,
        metavar="D",
        help="denoising strength of the passes after the first, in [0, 1] "
        f"(default: {ps.DEFAULT_LATER_DENOISE:g})",
    )
    p_sched.add_argument(
        "--plot",
        "--png",
        type=_png_path,
        metavar="FILE.png",
        help="also draw both runs (with --passes or --scale: each pass's sigmas and size)",
    )
    p_sched.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p_sched.set_defaults(func=cmd_schedule)

    metric_lines = "\n".join(
        textwrap.fill(f"{name}: {text}", 92, initial_indent="  ", subsequent_indent="    ")
        for name, text in pv.METRIC_HELP.items()
    )
    limits = (
        f"limits: at most {cmp.MAX_VALUES:,} values (channels x height x width) in the latent "
        f"and in each output, {cmp.MAX_SIDE} latent pixels per side, latent files up to "
        f"{cmp.MAX_FILE_BYTES // 2**20} MiB, --scale up to {MAX_SCALE:g}"
    )
    p_cmp = sub.add_parser(
        "compare",
        help="resize one latent with every method; metrics and a PNG grid",
        description=_wrap(
            "Resize one latent with each method and print measurable properties; with --out "
            "also write a PNG grid (each channel in gray over the input's range, red/blue "
            "where a method goes above/below it, and an RGB preview through the standard "
            "latent-to-RGB factors for 4-channel latents; latents with more channels show "
            "their first four). Without a file a built-in, deterministic synthetic latent is "
            "used. Files (" + ", ".join(pv.LATENT_FILE_SUFFIXES) + "): safetensors (also "
            "ComfyUI .latent: key latent_tensor, or any single 4-D tensor) or torch "
            "(a tensor, or a dict with 'samples'). Only the first latent of a batch is used."
        )
        + "\n\n"
        + _wrap(limits, "."),
        epilog=f"metrics (all computed in float64 on the CPU):\n{metric_lines}\n\n"
        + EXIT_CODES_EPILOG,
        formatter_class=formatter,
    )
    p_cmp.add_argument(
        "latent",
        nargs="?",
        help="latent file (" + ", ".join(pv.LATENT_FILE_SUFFIXES) + "; default: synthetic latent)",
    )
    p_cmp.add_argument(
        "--methods",
        "-m",
        type=_method_list,
        metavar="A,B,...",
        help="comma-separated methods, by name or label, any case (default: all): "
        + ", ".join(METHODS),
    )
    group = p_cmp.add_mutually_exclusive_group()
    group.add_argument(
        "--scale",
        type=_scale,
        help=f"resize factor in (0, {MAX_SCALE:g}] (default: 1.5; sizes are rounded)",
    )
    group.add_argument("--size", type=_size, metavar="HxW", help="output size in latent pixels")
    p_cmp.add_argument(
        "--model", choices=pv.MODELS, default="sd1", help="RGB preview factors (default: sd1)"
    )
    p_cmp.add_argument("--out", "-o", type=_png_path, metavar="FILE.png", help="write a PNG grid")
    p_cmp.add_argument("--seed", type=_seed, default=0, help="seed of the synthetic latent")
    p_cmp.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p_cmp.set_defaults(func=cmd_compare)

    p_fig = sub.add_parser(
        "figures",
        help="regenerate the README figures",
        description=_wrap(
            "Regenerate every figure in assets/ (deterministic): "
            + ", ".join(FIGURE_FILES.values())
            + "."
        ),
        epilog=EXIT_CODES_EPILOG,
        formatter_class=formatter,
    )
    p_fig.add_argument(
        "--out", "-o", type=_out_dir, default=Path("assets"), help="folder (default: assets)"
    )
    p_fig.set_defaults(func=cmd_figures)
    return parser


def _error(message: object) -> None:
    """Print an error the way argparse does."""
    print(f"{_prog()}: error: {message}", file=sys.stderr)


def _quiet_stdout() -> None:
    """Send what is left of stdout to /dev/null, so nothing fails again when Python exits."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 runtime error, 2 invalid input)."""
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
            sys.stdout.flush()
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        try:
            code = args.func(args)
        except (ValueError, LookupError) as exc:  # invalid input, found before any output
            _error(exc)
            return EXIT_USAGE
        except BrokenPipeError:
            raise
        except Exception as exc:  # a runtime failure, reported without a traceback
            _error(exc)
            return EXIT_ERROR
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        _quiet_stdout()
        return EXIT_PIPE
