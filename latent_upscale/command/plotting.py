"""Figures for the command line and the README (matplotlib, the optional ``plot`` extra).

matplotlib is imported inside the functions only, so importing this module never needs it and
the WebUI extension never loads it. Every function returns PNG bytes: the caller decides where
they go (written atomically by the command). Output is deterministic: default style, no timestamps,
and the image reduced to a small palette when Pillow is present.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from latent_upscale.command import preview as pv

# how to get matplotlib: the plot extra from a clone of the repository (the package is not on a
# package index), or matplotlib itself into the Python that runs the command
PLOT_EXTRA_HINT = (
    "from a clone of the repository: .venv/bin/pip install -e '.[plot]' "
    "(or: python -m pip install 'matplotlib>=3.5' with the Python that runs this command)"
)

_RC = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "savefig.facecolor": "white",
    "figure.facecolor": "white",
    "path.simplify": False,
}
# Colour-blind-safe (Okabe–Ito) pair for "ours" vs "default".
_PAIR = ("#0072B2", "#D55E00")
_LINESTYLES = ("-", "--", ":", "-.")


class MissingPlotExtra(RuntimeError):
    """matplotlib is not installed."""


def require_matplotlib() -> Any:
    """Import matplotlib or raise ``MissingPlotExtra`` saying how to install it."""
    try:
        import matplotlib
    except ImportError as exc:
        raise MissingPlotExtra(f"plotting needs matplotlib; {PLOT_EXTRA_HINT}") from exc
    return matplotlib


def _figure(width_in: float, height_in: float, dpi: int) -> Any:
    """A pyplot-free Figure (no global state, no GUI backend)."""
    require_matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=dpi)


def _style() -> Any:
    """Context manager: matplotlib defaults plus our sizes, whatever the user's matplotlibrc."""
    import matplotlib as mpl
    import matplotlib.style

    class _Both:
        def __enter__(self) -> None:
            self._style = matplotlib.style.context("default")
            self._style.__enter__()
            self._rc = mpl.rc_context(_RC)
            self._rc.__enter__()

        def __exit__(self, *exc: object) -> None:
            self._rc.__exit__(*exc)
            self._style.__exit__(*exc)

    return _Both()


def _png(fig: Any, *, colors: int | None = None, photo: bool = False, **savefig: Any) -> bytes:
    """Render a figure to PNG bytes, palette-reduced to ``colors`` colours if Pillow is there.

    Line art keeps its few saturated colours best with octree quantization; image grids
    (``photo``) keep their gradients best with median cut.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None}, **savefig)
    if colors is None:
        return buffer.getvalue()
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a matplotlib dependency
        return buffer.getvalue()
    buffer.seek(0)
    with Image.open(buffer) as image:
        reduced = image.convert("RGB").quantize(colors=colors, method=0 if photo else 2, dither=0)
    out = io.BytesIO()
    reduced.save(out, format="PNG", optimize=True)
    return out.getvalue()


# --- schedules ---------------------------------------------------------------------------------


def schedule_png(series: Sequence[tuple[str, Sequence[float]]], *, title: str) -> bytes:
    """Sigma against sampling step for a few runs (the default-vs-full-steps picture)."""
    with _style():
        fig = _figure(7.0, 3.6, 90)
        ax = fig.add_subplot()
        for index, (label, sigmas) in enumerate(series):
            ax.plot(
                range(len(sigmas)),
                list(sigmas),
                marker="o" if index == 0 else "s",
                markersize=3.5 if index == 0 else 4.5,
                linewidth=1.6,
                color=_PAIR[index % len(_PAIR)],
                label=label,
            )
        ax.set_xlabel("sampling step (σ before the step; the last point is where sampling ends)")
        ax.set_ylabel("σ (noise level)")
        ax.set_title(title)
        ax.set_xlim(left=-0.5)
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper right", frameon=True)
        fig.tight_layout()
        return _png(fig, colors=128)


# Okabe–Ito colours for the passes (pass 1 first), and the init image's gray.
_PASS_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
_PASS_MARKERS = ("o", "s", "^", "D", "v", "P")
_SOURCE_COLOUR = "#666666"


def passes_png(
    series: Sequence[tuple[str, Sequence[float]]],
    sizes: Sequence[tuple[str, int, int]],
    *,
    title: str,
) -> bytes:
    """Two panels for a multi-pass upscale: each pass's sigmas, and the size it works at.

    ``series``: (label, sigmas) per pass. ``sizes``: (label, width, height) of the init image,
    then of each pass, in pixels; drawn to scale as nested rectangles from a common corner.
    Passes whose sigmas coincide stay visible: earlier passes have larger, hollow markers.
    """
    with _style():
        fig = _figure(12.0, 4.4, 80)
        left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": (1.5, 1)})
        count = len(series)
        for index, (label, sigmas) in enumerate(series):
            colour = _PASS_COLOURS[index % len(_PASS_COLOURS)]
            left.plot(
                range(len(sigmas)),
                list(sigmas),
                marker=_PASS_MARKERS[index % len(_PASS_MARKERS)],
                markersize=3.5 + 2.0 * (count - 1 - index),
                markerfacecolor="none" if index < count - 1 else colour,
                linewidth=1.5,
                color=colour,
                label=label,
                zorder=2 + index,
            )
        left.set_xlabel("sampling step within the pass (σ before the step; last: where it ends)")
        left.set_ylabel("σ (noise level)")
        left.set_title("sigmas each pass runs")
        left.set_xlim(left=-0.5)
        left.set_ylim(bottom=0)
        left.legend(loc="upper right", frameon=True)

        from matplotlib.colors import to_rgb
        from matplotlib.patches import Rectangle

        for index, (label, width, height) in reversed(list(enumerate(sizes))):
            source = index == 0
            colour = _SOURCE_COLOUR if source else _PASS_COLOURS[(index - 1) % len(_PASS_COLOURS)]
            tint = [0.88 + 0.12 * c for c in to_rgb(colour)]  # opaque: no stacking
            right.add_patch(Rectangle((0, 0), width, height, facecolor=tint, edgecolor="none"))
            right.add_patch(
                Rectangle(
                    (0, 0),
                    width,
                    height,
                    fill=False,
                    edgecolor=colour,
                    linewidth=1.8,
                    linestyle="--" if source else "-",
                    label=label,
                )
            )
        right.set_xlim(0, max(w for _, w, _ in sizes) * 1.04)
        right.set_ylim(max(h for _, _, h in sizes) * 1.04, 0)  # image orientation
        right.set_aspect("equal")
        right.set_xlabel("width (pixels)")
        right.set_ylabel("height (pixels)")
        right.set_title("size of each pass, to scale (latent = pixels / 8)")
        handles, labels = right.get_legend_handles_labels()
        order = sorted(range(len(labels)), key=lambda i: -i)  # init image first
        right.legend(
            [handles[i] for i in order],
            [labels[i] for i in order],
            loc="center left",
            bbox_to_anchor=(1.03, 0.5),
            frameon=False,
        )
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        return _png(fig, colors=128)


def _series_style(index: int) -> dict[str, Any]:
    """Colour and line style for the i-th of many curves (tab10 × 4 line styles)."""
    import matplotlib as mpl

    colours = mpl.colormaps["tab10"].colors
    return {
        "color": colours[index % len(colours)],
        "linestyle": _LINESTYLES[(index // len(colours)) % len(_LINESTYLES)],
    }


def overview_png(
    full: Mapping[str, Sequence[float]],
    partial: Mapping[str, Sequence[float]],
    *,
    titles: tuple[str, str],
) -> bytes:
    """Two panels: every schedule at full denoise, and what runs at a lower denoise."""
    with _style():
        fig = _figure(11.0, 4.2, 80)
        axes = fig.subplots(1, 2)
        for ax, data, title in zip(axes, (full, partial), titles, strict=True):
            for index, (name, sigmas) in enumerate(data.items()):
                values = [s for s in sigmas if s > 0]  # log axis: leave out the final 0
                ax.plot(
                    range(len(values)), values, linewidth=1.3, label=name, **_series_style(index)
                )
            ax.set_yscale("log")
            ax.set_xlabel("sampling step")
            ax.set_ylabel("σ (log scale; final 0 not shown)")
            ax.set_title(title)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="center right", frameon=False, ncol=1)
        fig.tight_layout(rect=(0, 0, 0.82, 1))
        return _png(fig, colors=128)


# --- methods -----------------------------------------------------------------------------------

_GAP = 6  # pixels between cells
_OVER = (0.85, 0.15, 0.15)  # above the input channel's range
_UNDER = (0.15, 0.35, 0.9)  # below it


def _channel_rgb(channel: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """Gray image [H, W, 3] (uint8) of one channel over [lo, hi]; out-of-range pixels red/blue."""
    span = max(hi - lo, 1e-12)
    value = ((channel.double() - lo) / span).unsqueeze(-1)
    tol = pv.OVERSHOOT_TOLERANCE
    over = torch.tensor(_OVER, dtype=torch.float64)
    under = torch.tensor(_UNDER, dtype=torch.float64)
    gray = value.clamp(0.0, 1.0).expand(*value.shape[:2], 3)
    image = torch.where(value > 1.0 + tol, over, torch.where(value < -tol, under, gray))
    return _to_uint8(image)


def _to_uint8(image: torch.Tensor) -> torch.Tensor:
    """An [H, W, 3] image with values in [0, 1] as uint8."""
    return (image * 255.0).round().clamp(0, 255).to(torch.uint8)


def _zoom(image: torch.Tensor, factor: int) -> torch.Tensor:
    """Integer nearest-neighbour magnification of an [H, W, 3] image (exact pixel blocks)."""
    return image.repeat_interleave(factor, dim=0).repeat_interleave(factor, dim=1)


GRID_CHANNELS = 4  # channels drawn per latent; more are named in the note, not drawn


def _cells(latent: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, model: str) -> list:
    """Row images for one latent [1, C, H, W]: up to four channels, then the RGB preview."""
    shown = min(len(lo), GRID_CHANNELS)
    rows = [_channel_rgb(latent[0, c], float(lo[c]), float(hi[c])) for c in range(shown)]
    if latent.shape[1] == len(pv.LATENT_RGB_FACTORS[model]):
        rows.append(_to_uint8(pv.latent_to_rgb(latent, model)[0].permute(1, 2, 0).double()))
    return rows


_DPI = 100
_LABEL_PT, _TITLE_PT, _NOTE_PT = 8.0, 9.0, 7.5


@functools.cache
def _text_px(text: str, size: float) -> float:
    """Width in pixels of one line of ``text`` at ``size`` points in the default font."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    if not text:
        return 0.0
    width, _, _ = text_to_path.get_text_width_height_descent(
        text, FontProperties(size=size), ismath=False
    )
    return float(width) * _DPI / 72


def _line_px(size: float) -> float:
    """Height in pixels of one line of text at ``size`` points (with line spacing)."""
    return size * 1.3 * _DPI / 72


def _split_label(label: str, width: float) -> str:
    """``label`` on one line if it fits ``width`` pixels, else split in two at a '-' or space.

    Of the split points, the one with the narrowest longer line wins; a label without one
    stays on one line (the column is then widened to it).
    """
    if _text_px(label, _LABEL_PT) <= width:
        return label
    best, best_width = label, _text_px(label, _LABEL_PT)
    for i, char in enumerate(label):
        if char in "- " and 0 < i < len(label) - 1:
            head = label[: i + 1].rstrip() if char == "-" else label[:i]
            tail = label[i + 1 :]
            wide = max(_text_px(head, _LABEL_PT), _text_px(tail, _LABEL_PT))
            if wide < best_width:
                best, best_width = f"{head}\n{tail}", wide
    return best


def _wrap_px(text: str, size: float, width: float) -> list[str]:
    """``text`` broken at spaces into lines of at most ``width`` pixels (long words stay)."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and _text_px(f"{lines[-1]} {word}", size) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


GRID_MAX_CELL = 128  # latent pixels per side drawn per cell; larger outputs show their centre


def _window(out_len: int, in_len: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """(output range, input range) along one axis drawn in the grid: all of it, or the central
    ``GRID_MAX_CELL`` output pixels and the input pixels they come from."""
    if out_len <= GRID_MAX_CELL:
        return (0, out_len), (0, in_len)
    start = (out_len - GRID_MAX_CELL) // 2
    stop = start + GRID_MAX_CELL
    in_start = start * in_len // out_len
    in_stop = min(in_len, -(-stop * in_len // out_len))
    return (start, stop), (in_start, max(in_stop, in_start + 1))


def compare_png(
    latent: torch.Tensor,
    outputs: Mapping[str, torch.Tensor],
    *,
    model: str = "sd1",
    title: str = "",
) -> bytes:
    """Grid: the input and each method's output (columns) by channel and RGB preview (rows).

    Pixels are magnified by a whole factor and placed 1:1 (no resampling by matplotlib), so
    what you see is exactly each method's latent pixels; outputs over ``GRID_MAX_CELL`` pixels
    per side show their centre (and the input the part it comes from). Columns and rows are at
    least as wide and tall as their labels, which are split in two lines where a cell is
    narrow, so labels never overlap. A latent with more than four channels shows its first
    four, and the note under the grid says so.
    """
    if not outputs:
        raise ValueError("nothing to draw: no method output")
    latent = latent[:1].detach().float().cpu()
    channels = latent.shape[1]
    lo = latent.amin(dim=(0, 2, 3))
    hi = latent.amax(dim=(0, 2, 3))
    full_h, full_w = next(iter(outputs.values())).shape[-2:]
    (y0, y1), (iy0, iy1) = _window(full_h, latent.shape[-2])
    (x0, x1), (ix0, ix1) = _window(full_w, latent.shape[-1])
    cropped = (y1 - y0, x1 - x0) != (full_h, full_w)
    out_h, out_w = y1 - y0, x1 - x0
    zoom = max(1, 100 // max(out_h, out_w))
    cell_h, cell_w = out_h * zoom, out_w * zoom
    window = latent[..., iy0:iy1, ix0:ix1]
    in_zoom = max(1, min(cell_h // window.shape[-2], cell_w // window.shape[-1]))
    columns = [("input", _cells(window, lo, hi, model), in_zoom)]
    for name, out in outputs.items():
        part = out[:1, :, y0:y1, x0:x1].detach().float().cpu()
        columns.append((name, _cells(part, lo, hi, model), zoom))
    n_rows = len(columns[0][1])
    row_labels = [f"channel {c}" for c in range(min(channels, GRID_CHANNELS))]
    if n_rows > len(row_labels):
        row_labels.append(f"RGB ({model.upper()})")

    with _style():
        names = [name for name, _, _ in columns]
        if in_zoom != zoom:
            names[0] = f"input (x{in_zoom} zoom)"
        labels = [_split_label(name, cell_w) for name in names]
        label_w = max(_text_px(line, _LABEL_PT) for lab in labels for line in lab.split("\n"))
        pitch_w = max(cell_w, math.ceil(label_w)) + _GAP
        pitch_h = max(cell_h, math.ceil(_line_px(_LABEL_PT))) + _GAP
        left = math.ceil(max(_text_px(label, _LABEL_PT) for label in row_labels)) + 14
        width = left + len(columns) * pitch_w
        label_lines = max(lab.count("\n") + 1 for lab in labels)
        title_lines = _wrap_px(title, _TITLE_PT, width - 12) if title else []
        note = (
            "channels: gray over the input channel's min..max; red = above, blue = below "
            "(overshoot)"
            + (f"; RGB via the {model.upper()} latent-to-RGB factors" if n_rows > 4 else "")
            + (
                f"; showing channels 0-{GRID_CHANNELS - 1} of {channels} (metrics use all)"
                if channels > GRID_CHANNELS
                else ""
            )
            + (
                f"; showing the central {out_h}x{out_w} of {full_h}x{full_w} output pixels"
                if cropped
                else ""
            )
        )
        note_lines = _wrap_px(note, _NOTE_PT, width - 12)
        title_h = math.ceil(len(title_lines) * _line_px(_TITLE_PT))
        top = 8 + title_h + 6 + math.ceil(label_lines * _line_px(_LABEL_PT)) + 4
        bottom = 10 + math.ceil(len(note_lines) * _line_px(_NOTE_PT))
        height = top + n_rows * pitch_h + bottom

        mosaic = torch.full((height, width, 3), 255, dtype=torch.uint8)
        for col, (_, cells, factor) in enumerate(columns):
            x0 = left + col * pitch_w
            for row, cell in enumerate(cells):
                image = _zoom(cell, factor)
                y = top + row * pitch_h + (pitch_h - _GAP - image.shape[0]) // 2
                x = x0 + (pitch_w - _GAP - image.shape[1]) // 2
                mosaic[y : y + image.shape[0], x : x + image.shape[1]] = image

        fig = _figure(width / _DPI, height / _DPI, _DPI)
        fig.figimage(mosaic.numpy(), xo=0, yo=0, origin="upper")
        text = {"parse_math": False, "size": _LABEL_PT}
        for col, label in enumerate(labels):
            x = left + col * pitch_w + (pitch_w - _GAP) / 2
            fig.text(
                x / width,
                1 - (top - 4) / height,
                label,
                ha="center",
                va="bottom",
                linespacing=1.1,
                **text,
            )
        for row, label in enumerate(row_labels):
            y = top + row * pitch_h + (pitch_h - _GAP) / 2
            fig.text(6 / width, 1 - y / height, label, ha="left", va="center", **text)
        if title_lines:
            fig.text(
                6 / width, 1 - 6 / height, "\n".join(title_lines), ha="left", va="top",
                **{**text, "size": _TITLE_PT},
            )  # fmt: skip
        fig.text(
            6 / width, 6 / height, "\n".join(note_lines), ha="left", va="bottom",
            **{**text, "size": _NOTE_PT},
        )  # fmt: skip
        return _png(fig, colors=256, photo=True, dpi=_DPI)
