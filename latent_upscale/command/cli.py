"""The ``latent-upscale`` command: see schedules and resize methods without a WebUI or a GPU.

Subcommands: ``list`` (also the default), ``schedule``, ``compare``, ``figures``. Entry point
``main(argv) -> exit code``: 0 ok, 2 invalid input or usage, 1 any other error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from latent_upscale import (
    METHODS,
    SCHEDULES,
    discrete_sigmas,
    img2img_sigmas,
    img2img_steps,
    upscale,
)
from latent_upscale import preview as pv

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2

TABLE_KINDS = ("a1111", "comfyui", "float64", "a1111_fp16")
DEFAULT_SAMPLER = "Euler"
FIGURE_FILES = {
    "schedule": "schedule-default-vs-full-steps.png",
    "overview": "schedulers-overview.png",
    "methods": "methods-compare.png",
}

EXIT_CODES_EPILOG = """\
exit codes:
  0  success
  1  runtime error (e.g. matplotlib missing for a plot: pip install 'latent-upscale[plot]',
     a file that cannot be written)
  2  invalid input or usage (unknown option or name, bad number, missing or malformed latent
     file); nothing is written in that case
"""


class UsageError(ValueError):
    """Invalid input from the user (exit code 2)."""


# --- argument types ----------------------------------------------------------------------------


def _name_lookup(registry: Mapping[str, Any], what: str) -> Callable[[str], str]:
    """An argparse type that accepts a registry name or label (any case) and returns the name."""
    aliases: dict[str, str] = {}
    for name, info in registry.items():
        aliases[name.lower()] = name
        aliases[str(getattr(info, "label", name)).lower()] = name

    def parse(value: str) -> str:
        name = aliases.get(value.strip().lower())
        if name is None:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {value!r}; choose from: {', '.join(registry)}"
            )
        return name

    parse.__name__ = what  # argparse uses it in "invalid <name> value" messages
    return parse


def _method_list(value: str) -> list[str]:
    """``--methods a,b,c`` → validated method names, in the given order, without duplicates."""
    parse = _name_lookup(METHODS, "method")
    names = [parse(part) for part in value.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"no method given; choose from: {', '.join(METHODS)}")
    return list(dict.fromkeys(names))


def _positive_int(value: str) -> int:
    """An integer >= 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {number}")
    return number


def _in_range(what: str, high: float) -> Callable[[str], float]:
    """An argparse type: a number in (0, ``high``], named ``what`` in its error."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a number in (0, {high:g}], got {value!r}"
            ) from None
        if not 0.0 < number <= high:
            raise argparse.ArgumentTypeError(f"{what} must be in (0, {high:g}], got {number:g}")
        return number

    parse.__name__ = what  # argparse names the type by it
    return parse


_denoise = _in_range("denoise", 1.0)  # a denoising strength
_scale = _in_range("scale", 16.0)  # a resize factor


def _size(value: str) -> tuple[int, int]:
    """``HxW`` (latent pixels) → (height, width)."""
    parts = value.lower().replace("*", "x").split("x")
    try:
        height, width = (int(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected HxW in latent pixels (e.g. 96x64), got {value!r}"
        ) from None
    if height < 1 or width < 1:
        raise argparse.ArgumentTypeError(f"size must be at least 1x1, got {value!r}")
    return height, width


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


# --- helpers -----------------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plotting() -> Any:
    """The plotting module, after checking that matplotlib (the ``plot`` extra) is installed."""
    from latent_upscale import plotting

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


@dataclass(frozen=True)
class ScheduleRun:
    """The sigmas that one img2img configuration actually runs."""

    label: str
    scheduler: str
    full_steps: bool
    total_steps: int
    t_enc: int
    sigmas: list[float]

    @property
    def steps_run(self) -> int:
        """Number of sampling steps (one fewer than the sigmas, which end at the last σ)."""
        return max(len(self.sigmas) - 1, 0)


def _schedule_kwargs(scheduler: str, model: str, sampler: str) -> dict[str, Any]:
    """Keyword arguments for ``img2img_sigmas``: the SDXL flag, and the sampler for Automatic."""
    kwargs: dict[str, Any] = {"sdxl": model == "sdxl"}
    if scheduler == "automatic":
        kwargs["sampler"] = sampler
    return kwargs


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
    runs = []
    for label, name, full in (
        ("latent-upscale", scheduler, full_steps),
        ("webui-default", "automatic", False),
    ):
        sigmas = img2img_sigmas(
            name, steps, denoise, full, table, **_schedule_kwargs(name, model, sampler)
        )
        total, t_enc = img2img_steps(steps, denoise, full)
        values = [float(v) for v in torch.as_tensor(sigmas).flatten().tolist()]
        runs.append(ScheduleRun(label, name, full, int(total), int(t_enc), values))
    return runs[0], runs[1]


def _describe_run(run: ScheduleRun, sampler: str) -> str:
    """One line saying how many steps a run takes and why."""
    how = "full steps" if run.full_steps else "steps x denoise"
    name = f"Automatic ({sampler})" if run.scheduler == "automatic" else run.scheduler
    return (
        f"{name}, {how}: {run.steps_run} steps run "
        f"(the last {len(run.sigmas)} sigmas of a {run.total_steps}-step schedule)"
    )


def format_schedule_table(ours: ScheduleRun, default: ScheduleRun) -> str:
    """Side-by-side table of the sigmas, one row per sigma index (``-`` where a run has ended)."""
    rows = [f"{'sigma#':>6}  {ours.label:>15}  {default.label:>15}"]
    for i in range(max(len(ours.sigmas), len(default.sigmas))):
        cells = [
            f"{run.sigmas[i]:15.6f}" if i < len(run.sigmas) else f"{'-':>15}"
            for run in (ours, default)
        ]
        rows.append(f"{i:>6}  {cells[0]}  {cells[1]}")
    return "\n".join(rows)


def cmd_schedule(args: argparse.Namespace) -> int:
    """Print (and optionally plot) the sigmas that run, against the WebUI's default."""
    plotting = _plotting() if args.plot else None
    ours, default = schedule_runs(
        args.scheduler,
        args.steps,
        args.denoise,
        args.full_steps,
        model=args.model,
        table_kind=args.table,
        sampler=args.sampler,
    )
    settings = {
        "scheduler": args.scheduler,
        "steps": args.steps,
        "denoise": args.denoise,
        "full_steps": args.full_steps,
        "model": args.model,
        "table": args.table,
        "sampler": args.sampler,
    }
    if args.json:
        payload = {"settings": settings}
        for run in (ours, default):
            payload[run.label.replace("-", "_")] = {**asdict(run), "steps_run": run.steps_run}
        print(json.dumps(payload, indent=2))
    else:
        print(
            f"img2img with {args.steps} steps at denoise {args.denoise:g} "
            f"({args.model.upper()} sigma table, {args.table})"
        )
        print(f"  latent-upscale: {_describe_run(ours, args.sampler)}")
        print(f"  webui-default:  {_describe_run(default, args.sampler)}")
        print()
        print(format_schedule_table(ours, default))
    if plotting is not None:
        title = (
            f"img2img, {args.steps} steps, denoise {args.denoise:g} "
            f"({args.model.upper()} table): what actually runs"
        )
        png = plotting.schedule_png(
            [
                (f"Latent Upscale: {_short_label(ours, args.sampler)}", ours.sigmas),
                (f"WebUI default: {_short_label(default, args.sampler)}", default.sigmas),
            ],
            title=title,
        )
        write_atomic(args.plot, png)
        if not args.json:
            print(f"\nwrote {args.plot} ({len(png) // 1024} KiB)")
    return EXIT_OK


def _short_label(run: ScheduleRun, sampler: str) -> str:
    """Legend text for a run: scheduler, step rule and steps run."""
    name = f"Automatic ({sampler})" if run.scheduler == "automatic" else run.scheduler
    how = "full steps" if run.full_steps else "steps × denoise"
    return f"{name}, {how} → {run.steps_run} steps"


# --- compare -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Every method's output for one input latent, with metrics."""

    source: str
    latent: torch.Tensor
    size: tuple[int, int]
    outputs: dict[str, torch.Tensor]
    metrics: dict[str, pv.Metrics]
    skipped: dict[str, str]


def target_size(
    shape: Sequence[int], scale: float | None, size: tuple[int, int] | None
) -> tuple[int, int]:
    """Output (height, width) from ``--size`` or from ``--scale`` (rounded, at least 1)."""
    if size is not None:
        return size
    factor = 1.5 if scale is None else scale
    return max(1, round(shape[-2] * factor)), max(1, round(shape[-1] * factor))


def compare_methods(
    latent: torch.Tensor,
    size: tuple[int, int],
    methods: Sequence[str],
    *,
    source: str = "input",
    skip_unavailable: bool = False,
) -> Comparison:
    """Resize ``latent`` with each method and measure the results."""
    outputs: dict[str, torch.Tensor] = {}
    metrics: dict[str, pv.Metrics] = {}
    skipped: dict[str, str] = {}
    for method in methods:
        try:
            out = upscale(latent, size, method)
        except (RuntimeError, NotImplementedError) as exc:
            if not skip_unavailable:
                raise
            skipped[method] = str(exc).splitlines()[0]
            continue
        outputs[method] = out.detach().float().cpu()
        metrics[method] = pv.measure(outputs[method], latent)
    return Comparison(source, latent, tuple(size), outputs, metrics, skipped)


def format_metrics_table(comparison: Comparison) -> str:
    """Fixed-width table: one row per method, one column per metric."""
    fields = list(pv.METRIC_HELP)
    width = max(len(m) for m in (*comparison.metrics, "method")) + 2
    rows = [f"{'method':<{width}}" + "".join(f"{name:>12}" for name in fields)]
    for method, metrics in comparison.metrics.items():
        values = asdict(metrics)
        rows.append(f"{method:<{width}}" + "".join(f"{values[name]:12.4f}" for name in fields))
    for method, reason in comparison.skipped.items():
        rows.append(f"{method:<{width}}  unavailable here: {reason}")
    return "\n".join(rows)


def _json_numbers(values: dict[str, float]) -> dict[str, float | None]:
    """Metric values for JSON: NaN (undefined, e.g. no detail in the input) becomes null."""
    return {k: None if math.isnan(v) else v for k, v in values.items()}


def _load_input(path: str | None, seed: int) -> tuple[torch.Tensor, str]:
    """The latent to compare (first of a batch) and a description of where it came from."""
    if path is None:
        return pv.synthetic_latent(seed=seed), f"synthetic latent (seed {seed})"
    latent = pv.load_latent(path)
    note = f" (first of a batch of {latent.shape[0]})" if latent.shape[0] > 1 else ""
    return latent[:1], f"{path}{note}"


def cmd_compare(args: argparse.Namespace) -> int:
    """Resize one latent with every method; print metrics and optionally write a PNG grid."""
    plotting = _plotting() if args.out else None
    latent, source = _load_input(args.latent, args.seed)
    size = target_size(latent.shape, args.scale, args.size)
    methods = args.methods or list(METHODS)
    comparison = compare_methods(
        latent, size, methods, source=source, skip_unavailable=args.methods is None
    )
    if not comparison.outputs:
        raise RuntimeError("no method could resize this latent here")
    h, w = latent.shape[-2:]
    if args.json:
        payload = {
            "source": source,
            "input_size": [h, w],
            "output_size": list(size),
            "channels": latent.shape[1],
            "metrics": {m: _json_numbers(asdict(v)) for m, v in comparison.metrics.items()},
            "skipped": comparison.skipped,
        }
        print(json.dumps(payload, indent=2))
    else:
        print(f"{source}: {latent.shape[1]} channels, {h}x{w} -> {size[0]}x{size[1]}")
        print()
        print(format_metrics_table(comparison))
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

OVERVIEW_STEPS = 30
OVERVIEW_DENOISE = 0.4


def overview_series(
    steps: int = OVERVIEW_STEPS,
    denoise: float = OVERVIEW_DENOISE,
    *,
    model: str = "sd1",
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Every schedule at full denoise, and what runs at ``denoise`` with full steps."""
    table = discrete_sigmas("a1111")
    full: dict[str, list[float]] = {}
    partial: dict[str, list[float]] = {}
    for name in SCHEDULES:
        kwargs = _schedule_kwargs(name, model, DEFAULT_SAMPLER)
        full[name] = img2img_sigmas(name, steps, 1.0, True, table, **kwargs).tolist()
        partial[name] = img2img_sigmas(name, steps, denoise, True, table, **kwargs).tolist()
    return full, partial


def build_figures() -> dict[str, bytes]:
    """PNG bytes of every figure in ``assets/``, keyed by file name (deterministic)."""
    plotting = _plotting()
    ours, default = schedule_runs("simple", 30, 0.4, True)
    figures = {
        FIGURE_FILES["schedule"]: plotting.schedule_png(
            [
                (f"Latent Upscale: {_short_label(ours, DEFAULT_SAMPLER)}", ours.sigmas),
                (f"WebUI default: {_short_label(default, DEFAULT_SAMPLER)}", default.sigmas),
            ],
            title="img2img, 30 steps, denoise 0.4 (SD1 table): what actually runs",
        )
    }
    full, partial = overview_series()
    figures[FIGURE_FILES["overview"]] = plotting.overview_png(
        full,
        partial,
        titles=(
            f"All schedules, {OVERVIEW_STEPS} steps (txt2img / denoise 1)",
            f"img2img denoise {OVERVIEW_DENOISE:g}, full steps: the {OVERVIEW_STEPS} steps run",
        ),
    )
    latent = pv.synthetic_latent()
    size = target_size(latent.shape, 1.5, None)
    comparison = compare_methods(latent, size, list(METHODS), skip_unavailable=True)
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

    scheduler = _name_lookup(SCHEDULES, "scheduler")
    p_sched = sub.add_parser(
        "schedule",
        help="print (and plot) the sigmas an img2img run actually uses",
        description=_wrap(
            "Print, sigma by sigma, what an img2img run with this scheduler, step count, "
            "denoise and full-steps setting samples, next to what the WebUI does by default "
            "(Automatic schedule for the sampler, steps x denoise). Sigmas come from the "
            "standard SD1/SDXL discrete noise table computed from the beta schedule; no model "
            "weights. Defaults show the classic case: 30 steps at denoise 0.4 run 13 steps by "
            "default and 30 with full steps."
        ),
        epilog=EXIT_CODES_EPILOG,
        formatter_class=formatter,
    )
    p_sched.add_argument(
        "--scheduler",
        "-s",
        type=scheduler,
        default="simple",
        metavar="NAME",
        help=f"schedule, by name or label (default: simple); one of: {', '.join(SCHEDULES)}",
    )
    p_sched.add_argument(
        "--steps", type=_positive_int, default=30, help="sampling steps slider (default: 30)"
    )
    p_sched.add_argument(
        "--denoise", type=_denoise, default=0.4, help="denoising strength in (0, 1] (default 0.4)"
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
        choices=TABLE_KINDS,
        default="a1111",
        help="precision of the discrete sigma table (default: a1111, float32 as in the WebUI)",
    )
    p_sched.add_argument(
        "--sampler",
        default=DEFAULT_SAMPLER,
        help="sampler whose Automatic schedule is the WebUI default (default: Euler)",
    )
    p_sched.add_argument("--plot", type=_png_path, metavar="FILE.png", help="also draw both runs")
    p_sched.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p_sched.set_defaults(func=cmd_schedule)

    metric_lines = "\n".join(
        textwrap.fill(f"{name}: {text}", 92, initial_indent="  ", subsequent_indent="    ")
        for name, text in pv.METRIC_HELP.items()
    )
    p_cmp = sub.add_parser(
        "compare",
        help="resize one latent with every method; metrics and a PNG grid",
        description=_wrap(
            "Resize one latent with each method and print measurable properties; with --out "
            "also write a PNG grid (each channel in gray over the input's range, red/blue "
            "where a method goes above/below it, and an RGB preview through the standard "
            "latent-to-RGB factors for 4-channel latents). Without a file a built-in, "
            "deterministic synthetic latent is used. Files: .safetensors (also ComfyUI "
            ".latent: key latent_tensor, or any single 4-D tensor) or torch .pt/.pth "
            "(a tensor, or a dict with 'samples'). Only the first latent of a batch is used."
        ),
        epilog=f"metrics (all computed in float64 on the CPU):\n{metric_lines}\n\n"
        + EXIT_CODES_EPILOG,
        formatter_class=formatter,
    )
    p_cmp.add_argument("latent", nargs="?", help="latent file (default: synthetic latent)")
    p_cmp.add_argument(
        "--methods",
        "-m",
        type=_method_list,
        metavar="A,B,...",
        help=f"comma-separated methods (default: all): {', '.join(METHODS)}",
    )
    group = p_cmp.add_mutually_exclusive_group()
    group.add_argument(
        "--scale", type=_scale, help="resize factor (default: 1.5; sizes are rounded)"
    )
    group.add_argument("--size", type=_size, metavar="HxW", help="output size in latent pixels")
    p_cmp.add_argument(
        "--model", choices=pv.MODELS, default="sd1", help="RGB preview factors (default: sd1)"
    )
    p_cmp.add_argument("--out", "-o", type=_png_path, metavar="FILE.png", help="write a PNG grid")
    p_cmp.add_argument("--seed", type=int, default=0, help="seed of the synthetic latent")
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 runtime error, 2 invalid input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return args.func(args)
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
        return EXIT_ERROR
    except (ValueError, LookupError, FileNotFoundError) as exc:
        _error(exc)
        return EXIT_USAGE
    except Exception as exc:  # anything else is a runtime failure, reported without a traceback
        _error(exc)
        return EXIT_ERROR
