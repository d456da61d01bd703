"""Figures for the command line and the README (matplotlib, the optional ``plot`` extra).

matplotlib is imported inside the functions only, so importing this module never needs it and
the WebUI extension never loads it. Every function returns PNG bytes: the caller decides where
they go (written atomically by the CLI). Output is deterministic: default style, no timestamps,
and the image reduced to a small palette when Pillow is present.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from latent_upscale import preview as pv

PLOT_EXTRA_HINT = "install the plot extra: pip install 'latent-upscale[plot]'"

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
    """Gray image [H, W, 3] of one channel over [lo, hi]; out-of-range pixels red/blue."""
    span = max(hi - lo, 1e-12)
    value = (channel.double() - lo) / span
    tol = pv.OVERSHOOT_TOLERANCE
    gray = value.clamp(0.0, 1.0).unsqueeze(-1).expand(*value.shape, 3).clone()
    gray[value > 1.0 + tol] = torch.tensor(_OVER, dtype=gray.dtype)
    gray[value < -tol] = torch.tensor(_UNDER, dtype=gray.dtype)
    return gray


def _zoom(image: torch.Tensor, factor: int) -> torch.Tensor:
    """Integer nearest-neighbour magnification of an [H, W, 3] image (exact pixel blocks)."""
    return image.repeat_interleave(factor, dim=0).repeat_interleave(factor, dim=1)


def _cells(latent: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, model: str) -> list:
    """Row images for one latent [1, C, H, W]: up to four channels, then the RGB preview."""
    rows = [_channel_rgb(latent[0, c], float(lo[c]), float(hi[c])) for c in range(min(len(lo), 4))]
    if latent.shape[1] == len(pv.LATENT_RGB_FACTORS[model]):
        rows.append(pv.latent_to_rgb(latent, model)[0].permute(1, 2, 0).double())
    return rows


def compare_png(
    latent: torch.Tensor,
    outputs: Mapping[str, torch.Tensor],
    *,
    model: str = "sd1",
    title: str = "",
) -> bytes:
    """Grid: the input and each method's output (columns) by channel and RGB preview (rows).

    Pixels are magnified by a whole factor and placed 1:1 (no resampling by matplotlib), so
    what you see is exactly each method's latent pixels.
    """
    if not outputs:
        raise ValueError("nothing to draw: no method output")
    latent = latent[:1].detach().float().cpu()
    lo = latent.amin(dim=(0, 2, 3))
    hi = latent.amax(dim=(0, 2, 3))
    out_h, out_w = next(iter(outputs.values())).shape[-2:]
    zoom = max(1, 100 // max(out_h, out_w))
    cell_h, cell_w = out_h * zoom, out_w * zoom
    in_zoom = max(1, min(cell_h // latent.shape[-2], cell_w // latent.shape[-1]))
    columns = [("input", _cells(latent, lo, hi, model), in_zoom)]
    for name, out in outputs.items():
        columns.append((name, _cells(out[:1].detach().float().cpu(), lo, hi, model), zoom))
    n_rows = len(columns[0][1])
    row_labels = [f"channel {c}" for c in range(min(latent.shape[1], 4))]
    if n_rows > len(row_labels):
        row_labels.append(f"RGB ({model.upper()})")

    left, top, bottom = 78, 46, 34
    width = left + len(columns) * (cell_w + _GAP)
    height = top + n_rows * (cell_h + _GAP) + bottom
    mosaic = torch.ones(height, width, 3, dtype=torch.float64)
    for col, (_, cells, factor) in enumerate(columns):
        x0 = left + col * (cell_w + _GAP)
        for row, cell in enumerate(cells):
            image = _zoom(cell, factor)
            y0 = top + row * (cell_h + _GAP) + (cell_h - image.shape[0]) // 2
            x = x0 + (cell_w - image.shape[1]) // 2
            mosaic[y0 : y0 + image.shape[0], x : x + image.shape[1]] = image
    pixels = (mosaic * 255.0).round().clamp(0, 255).to(torch.uint8).numpy()

    dpi = 100
    with _style():
        fig = _figure(width / dpi, height / dpi, dpi)
        fig.figimage(pixels, xo=0, yo=0, origin="upper")
        for col, (name, _, factor) in enumerate(columns):
            x = left + col * (cell_w + _GAP) + cell_w / 2
            label = name if col else f"input (x{factor} zoom)" if factor != zoom else "input"
            fig.text(x / width, 1 - (top - 8) / height, label, ha="center", va="bottom", size=8)
        for row, label in enumerate(row_labels):
            y = top + row * (cell_h + _GAP) + cell_h / 2
            fig.text(6 / width, 1 - y / height, label, ha="left", va="center", size=8)
        if title:
            fig.text(6 / width, 1 - 6 / height, title, ha="left", va="top", size=9)
        note = (
            "channels: gray over the input channel's min..max; red = above, blue = below "
            "(overshoot)"
            + (f"; RGB via the {model.upper()} latent-to-RGB factors" if n_rows > 4 else "")
        )
        fig.text(6 / width, 8 / height, note, ha="left", va="bottom", size=7.5)
        return _png(fig, colors=256, photo=True, dpi=dpi)
