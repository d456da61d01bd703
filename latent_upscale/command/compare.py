"""The ``compare`` command's data: one latent resized by each method, measured; size limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from latent_upscale.command import preview as pv
from latent_upscale.interpolation import upscale

DEFAULT_SCALE = 1.5
# Limits that keep every accepted input within a few seconds and a few hundred MB of memory on
# a 2-core machine (measured worst cases: see the README's command section). Checked before
# anything large is read or allocated.
MAX_VALUES = 2**19  # channels x height x width of the latent compared and of each output
MAX_SIDE = 1024  # latent pixels along either side (8192 image pixels)
MAX_FILE_BYTES = 64 * 2**20  # a latent file (a batch; only its first latent is used)


class SizeLimitError(ValueError):
    """A latent or an output larger than the command's limits."""


def check_size(channels: int, height: int, width: int, what: str) -> None:
    """SizeLimitError unless a [channels, height, width] latent fits the limits."""
    values = channels * height * width
    if height > MAX_SIDE or width > MAX_SIDE:
        raise SizeLimitError(
            f"{what}: {height}x{width} latent pixels is over the limit of {MAX_SIDE} per side"
        )
    if values > MAX_VALUES:
        raise SizeLimitError(
            f"{what}: {channels} x {height} x {width} = {values:,} values is over the limit of "
            f"{MAX_VALUES:,} values (e.g. 4 channels at 512x256 or 16 at 256x128 latent pixels)"
        )


def target_size(
    shape: Sequence[int], scale: float | None, size: tuple[int, int] | None
) -> tuple[int, int]:
    """Output (height, width) from ``--size`` or from ``--scale`` (rounded, at least 1)."""
    if size is not None:
        return size
    factor = DEFAULT_SCALE if scale is None else scale
    return max(1, round(shape[-2] * factor)), max(1, round(shape[-1] * factor))


@dataclass(frozen=True)
class Comparison:
    """Every method's output for one input latent, with metrics."""

    source: str
    latent: torch.Tensor
    size: tuple[int, int]
    outputs: dict[str, torch.Tensor]
    metrics: dict[str, pv.Metrics]
    skipped: dict[str, str]


def compare_methods(
    latent: torch.Tensor,
    size: tuple[int, int],
    methods: Sequence[str],
    *,
    source: str = "input",
    skip_unavailable: bool = False,
) -> Comparison:
    """Resize ``latent`` with each method and measure the results (sizes checked first)."""
    check_size(*latent.shape[1:], "the input latent")
    check_size(latent.shape[1], *size, "the output")
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


GRID_CHANNELS = 4  # the picture grid shows the first four channels


def channel_note(channels: int) -> str | None:
    """What the grid leaves out of a latent with more than four channels (None: nothing)."""
    if channels <= GRID_CHANNELS:
        return None
    return (
        f"the metrics use all {channels} channels; the picture grid shows channels "
        f"0-{GRID_CHANNELS - 1} of {channels} and no RGB preview"
    )
