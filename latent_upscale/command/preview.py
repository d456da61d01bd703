"""Look at latents without a VAE: RGB preview, a synthetic test latent, file loading, metrics.

Pure torch (plus safetensors, imported only when a ``.safetensors``/``.latent`` file is read).
Nothing here needs a GPU, a model or the WebUI; the ``latent-upscale`` command builds on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

# Standard latent → RGB linear factors (rows: latent channel, columns: R, G, B), the ones the
# WebUI's "Approx cheap" live preview uses; the result is in about [-1, 1].
LATENT_RGB_FACTORS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "sd1": (
        (0.298, 0.207, 0.208),
        (0.187, 0.286, 0.173),
        (-0.158, 0.189, 0.264),
        (-0.184, -0.271, -0.473),
    ),
    "sdxl": (
        (0.3448, 0.4168, 0.4395),
        (-0.1953, -0.0290, 0.0250),
        (0.1074, 0.0886, -0.0163),
        (-0.3730, -0.2499, -0.2088),
    ),
}
MODELS = tuple(LATENT_RGB_FACTORS)

# ComfyUI ``.latent`` files written before "latent_format_version_0" stored the latent
# multiplied by the SD1 VAE scale factor; reading them divides it back out.
_SD1_SCALE_FACTOR = 0.18215
_LATENT_KEYS = ("latent_tensor", "samples")


class LatentFileError(ValueError):
    """A latent file that exists but cannot be used (wrong type, keys, shape or values)."""


def _check_model(model: str) -> str:
    """Validate a preview model name (``sd1``/``sdxl``)."""
    if model not in LATENT_RGB_FACTORS:
        raise ValueError(f"unknown model {model!r}; expected one of: {', '.join(MODELS)}")
    return model


def latent_to_rgb(latent: torch.Tensor, model: str = "sd1") -> torch.Tensor:
    """Cheap RGB preview of a 4-channel SD1/SDXL latent [B, 4, H, W] → [B, 3, H, W] in [0, 1]."""
    factors = LATENT_RGB_FACTORS[_check_model(model)]
    if latent.ndim != 4 or latent.shape[1] != len(factors):
        raise ValueError(
            f"the RGB preview needs a [batch, {len(factors)}, height, width] latent, "
            f"got shape {tuple(latent.shape)}"
        )
    weights = torch.tensor(factors, dtype=torch.float32, device=latent.device)
    rgb = torch.einsum("bchw,cr->brhw", latent.float(), weights)
    return ((rgb + 1.0) / 2.0).clamp(0.0, 1.0)


def _rgb_to_latent_vector(rgb: tuple[float, float, float], model: str = "sd1") -> torch.Tensor:
    """Smallest-norm latent vector whose RGB preview is ``rgb`` (components in [0, 1])."""
    weights = torch.tensor(LATENT_RGB_FACTORS[model], dtype=torch.float64)  # [4, 3]
    target = torch.tensor(rgb, dtype=torch.float64) * 2.0 - 1.0
    return torch.linalg.pinv(weights.T) @ target  # [4]


def synthetic_latent(height: int = 32, width: int = 32, *, seed: int = 0) -> torch.Tensor:
    """Deterministic 4-channel test latent [1, 4, H, W] with structure at several scales.

    A smooth two-colour gradient (large scale), a disc and a straight diagonal edge (sharp
    edges), stripes near the Nyquist limit (finest detail) and a little pixel noise; the colours
    are chosen through the SD1 preview factors so that the RGB preview looks like a picture.
    """
    if height < 4 or width < 4:
        raise ValueError(f"synthetic latent needs height, width >= 4, got {height}x{width}")
    gen = torch.Generator().manual_seed(seed)
    y = torch.linspace(0.0, 1.0, height, dtype=torch.float64).view(height, 1)
    x = torch.linspace(0.0, 1.0, width, dtype=torch.float64).view(1, width)
    sky, ground = _rgb_to_latent_vector((0.35, 0.55, 0.9)), _rgb_to_latent_vector((0.3, 0.6, 0.2))
    sun, stripe = _rgb_to_latent_vector((1.0, 0.85, 0.2)), _rgb_to_latent_vector((0.9, 0.2, 0.3))
    mix = y.expand(height, width)
    latent = sky.view(4, 1, 1) * (1 - mix) + (sky * 0.4 + ground * 0.6).view(4, 1, 1) * mix
    hill = (y > 0.45 + 0.35 * (x - 0.5)).expand(height, width)
    latent = torch.where(hill, ground.view(4, 1, 1), latent)
    disc = ((y - 0.28) ** 2 + (x - 0.72) ** 2) < 0.15**2
    latent = torch.where(disc, sun.view(4, 1, 1), latent)
    bars = (torch.arange(width).view(1, width) % 3 == 0) & (y > 0.75) & (x < 0.45)
    latent = torch.where(bars, stripe.view(4, 1, 1), latent)
    coarse = torch.randn(1, 4, 4, 4, generator=gen, dtype=torch.float64)
    latent = latent + 0.3 * F.interpolate(coarse, size=(height, width), mode="bicubic")[0]
    latent = latent + 0.08 * torch.randn(4, height, width, generator=gen, dtype=torch.float64)
    return latent.unsqueeze(0).float().contiguous()


def check_latent(tensor: object, source: str = "input") -> torch.Tensor:
    """Validate a latent: a finite floating-point 4-D tensor [B, C, H, W]; returned as float32."""
    if not isinstance(tensor, torch.Tensor):
        raise LatentFileError(f"{source}: expected a tensor, got {type(tensor).__name__}")
    if tensor.ndim != 4:
        raise LatentFileError(
            f"{source}: expected a 4-D latent [batch, channels, height, width], "
            f"got a {tensor.ndim}-D tensor of shape {tuple(tensor.shape)}"
        )
    if tensor.numel() == 0:
        raise LatentFileError(f"{source}: the latent is empty (shape {tuple(tensor.shape)})")
    if not tensor.is_floating_point():
        raise LatentFileError(f"{source}: expected floating-point values, got {tensor.dtype}")
    if not bool(torch.isfinite(tensor).all()):
        raise LatentFileError(f"{source}: the latent contains NaN or infinite values")
    return tensor.detach().to(device="cpu", dtype=torch.float32).contiguous()


def _pick_tensor(tensors: dict[str, torch.Tensor], source: str) -> torch.Tensor:
    """Pick the latent among named tensors (ComfyUI/A1111 keys, else the only 4-D one)."""
    for key in _LATENT_KEYS:
        if key in tensors:
            return tensors[key]
    if len(tensors) == 1:
        return next(iter(tensors.values()))
    four_d = [name for name, value in tensors.items() if getattr(value, "ndim", 0) == 4]
    if len(four_d) == 1:
        return tensors[four_d[0]]
    raise LatentFileError(
        f"{source}: cannot tell which tensor is the latent; keys: {', '.join(sorted(tensors))} "
        f"(expected {' or '.join(_LATENT_KEYS)}, or a single 4-D tensor)"
    )


def _load_safetensors(path: Path) -> torch.Tensor:
    """Read a safetensors latent, including ComfyUI ``.latent`` files (SaveLatent node)."""
    try:
        from safetensors.torch import load_file
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise LatentFileError(
            f"{path}: reading safetensors files needs the safetensors package "
            "(pip install safetensors)"
        ) from exc
    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own error type for corrupt files
        raise LatentFileError(f"{path}: not a readable safetensors file ({exc})") from exc
    if not tensors:
        raise LatentFileError(f"{path}: the file holds no tensors")
    latent = _pick_tensor(tensors, str(path))
    if "latent_tensor" in tensors and "latent_format_version_0" not in tensors:
        latent = latent.float() / _SD1_SCALE_FACTOR
    return latent


def _load_torch(path: Path) -> torch.Tensor:
    """Read a torch-saved tensor, or a dict holding ``samples`` / ``latent_tensor``."""
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or unsafe pickles
        raise LatentFileError(f"{path}: not a readable torch file ({exc})") from exc
    if isinstance(obj, dict):
        tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        if not tensors:
            raise LatentFileError(f"{path}: the dict holds no tensors (keys: {list(obj)})")
        return _pick_tensor(tensors, str(path))
    return obj


_LOADERS: dict[str, Callable[[Path], torch.Tensor]] = {
    ".safetensors": _load_safetensors,
    ".sft": _load_safetensors,
    ".latent": _load_safetensors,
    ".pt": _load_torch,
    ".pth": _load_torch,
    ".ckpt": _load_torch,
}
# the file name endings load_latent reads (the command's help and errors list them)
LATENT_FILE_SUFFIXES = tuple(_LOADERS)


def load_latent(path: str | Path, *, max_bytes: int | None = None) -> torch.Tensor:
    """Load a latent [B, C, H, W] (float32, CPU) from a safetensors/``.latent``/torch file.

    ``max_bytes`` refuses larger files before anything is read (LatentFileError).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"latent file not found: {path}")
    loader = _LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LatentFileError(
            f"{path}: unsupported file type {path.suffix!r}; "
            f"expected one of: {', '.join(LATENT_FILE_SUFFIXES)}"
        )
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise LatentFileError(
            f"{path}: the file has {size:,} bytes; the limit is {max_bytes:,} bytes "
            f"({max_bytes // 2**20} MiB)"
        )
    return check_latent(loader(path), str(path))


# --- metrics -----------------------------------------------------------------------------------

OVERSHOOT_TOLERANCE = 1e-5  # fraction of a channel's range treated as float rounding


@dataclass(frozen=True)
class Metrics:
    """Measurable properties of one resized latent, compared with its input."""

    detail: float  # input's upper-band energy kept (1 = ideal band-limited interpolation)
    new_high: float  # fraction of output energy above the input's Nyquist frequency
    overshoot: float  # largest excursion beyond the input's per-channel range, / that range
    norm_ratio: float  # mean channel-vector norm of the output / of the input
    norm_error: float  # mean |‖out‖ − bilinear(‖in‖)| / mean ‖in‖
    roundtrip: float  # RMS(area-downscaled output − input) / std(input)


def _power_spectrum(x: torch.Tensor) -> torch.Tensor:
    """2-D power spectrum |DFT|² of a [B, C, H, W] tensor, mean removed, / pixels², summed over
    batch and channels (every metric sums over them): [H, W]."""
    x = x - x.mean(dim=(-2, -1), keepdim=True)
    h, w = x.shape[-2:]
    return torch.view_as_real(torch.fft.fft2(x)).square().sum(dim=(0, 1, -1)) / float(h * w) ** 2


def _band_radius(h: int, w: int, h_ref: int, w_ref: int) -> torch.Tensor:
    """Frequency of each DFT bin of an h×w grid in cycles per *reference* pixel (max-norm)."""
    fy = torch.fft.fftfreq(h, dtype=torch.float64).abs().view(h, 1) * (h / h_ref)
    fx = torch.fft.fftfreq(w, dtype=torch.float64).abs().view(1, w) * (w / w_ref)
    return torch.maximum(fy, fx)


_EPS = 1e-9  # frequency tolerance at band edges


def _upper_band_energy(power: torch.Tensor, h_ref: int, w_ref: int) -> float:
    """Energy of ``power`` (a spectrum) in 0.25–0.5 cycles per reference pixel."""
    band = _band_radius(*power.shape[-2:], h_ref, w_ref)
    mask = (band > 0.25 + _EPS) & (band <= 0.5 + _EPS)
    return float((power * mask).sum())


def _new_high_share(power: torch.Tensor, ref_hw: tuple[int, int]) -> float:
    """Share of ``power`` (an output's spectrum) above the input's Nyquist frequency."""
    h_in, w_in = ref_hw
    h, w = power.shape[-2:]
    fy = torch.fft.fftfreq(h, dtype=torch.float64).abs().view(h, 1)
    fx = torch.fft.fftfreq(w, dtype=torch.float64).abs().view(1, w)
    high = (fy > 0.5 * h_in / h + _EPS) | (fx > 0.5 * w_in / w + _EPS)
    total = float(power.sum())
    return float((power * high).sum()) / total if total > 0 else 0.0


def detail_kept(out: torch.Tensor, ref: torch.Tensor) -> float:
    """Energy of the output in the input's upper band (0.25–0.5 cycles/input px) / the input's."""
    h_in, w_in = ref.shape[-2:]
    e_in = _upper_band_energy(_power_spectrum(ref.double()), h_in, w_in)
    e_out = _upper_band_energy(_power_spectrum(out.double()), h_in, w_in)
    return e_out / e_in if e_in > 0 else math.nan


def new_high_frequency(out: torch.Tensor, ref_hw: tuple[int, int]) -> float:
    """Fraction of the output's (mean-removed) spectral energy above the input's Nyquist band."""
    return _new_high_share(_power_spectrum(out.double()), ref_hw)


def overshoot(out: torch.Tensor, ref: torch.Tensor) -> float:
    """Largest excursion of any channel beyond the input channel's [min, max], / its range."""
    out, ref = out.double(), ref.double()
    lo, hi = ref.amin(dim=(0, 2, 3)), ref.amax(dim=(0, 2, 3))
    span = (hi - lo).clamp_min(1e-12)
    above = (out.amax(dim=(0, 2, 3)) - hi) / span
    below = (lo - out.amin(dim=(0, 2, 3))) / span
    excess = float(torch.maximum(above, below).max().clamp_min(0.0))
    return excess if excess > OVERSHOOT_TOLERANCE else 0.0


def _norms(x: torch.Tensor) -> torch.Tensor:
    """Euclidean norm of each pixel's channel vector: [B, C, H, W] → [B, 1, H, W]."""
    return x.double().norm(dim=1, keepdim=True)


def norm_ratio(out: torch.Tensor, ref: torch.Tensor) -> float:
    """Mean channel-vector norm of the output over that of the input (1 = norms kept on average)."""
    return float(_norms(out).mean() / _norms(ref).mean().clamp_min(1e-12))


def norm_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """Mean |‖v_out‖ − bilinearly interpolated ‖v_in‖| relative to the mean input norm."""
    expected = F.interpolate(_norms(ref), size=out.shape[-2:], mode="bilinear", align_corners=False)
    return float((_norms(out) - expected).abs().mean() / _norms(ref).mean().clamp_min(1e-12))


def roundtrip_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """RMS of (output area-resized back to the input size − input), over the input std."""
    back = F.interpolate(out.double(), size=ref.shape[-2:], mode="area")
    ref = ref.double()
    return float((back - ref).square().mean().sqrt() / ref.std().clamp_min(1e-12))


def measure(out: torch.Tensor, ref: torch.Tensor) -> Metrics:
    """All metrics of a resized latent ``out`` against its input ``ref`` (both [B, C, H, W])."""
    if out.ndim != 4 or ref.ndim != 4 or out.shape[:2] != ref.shape[:2]:
        raise ValueError(
            f"expected two [B, C, H, W] latents with the same B and C, "
            f"got {tuple(out.shape)} and {tuple(ref.shape)}"
        )
    out, ref = out.detach().cpu().double(), ref.detach().cpu().double()
    h_in, w_in = ref.shape[-2:]
    power_out = _power_spectrum(out)  # one FFT of the output serves both spectral metrics
    e_in = _upper_band_energy(_power_spectrum(ref), h_in, w_in)
    e_out = _upper_band_energy(power_out, h_in, w_in)
    return Metrics(
        detail=e_out / e_in if e_in > 0 else math.nan,
        new_high=_new_high_share(power_out, (h_in, w_in)),
        overshoot=overshoot(out, ref),
        norm_ratio=norm_ratio(out, ref),
        norm_error=norm_error(out, ref),
        roundtrip=roundtrip_error(out, ref),
    )


METRIC_HELP: dict[str, str] = {
    "detail": "energy the output keeps in the input's upper frequency band (0.25-0.5 cycles per "
    "input pixel), relative to the input's own energy there; 1 = kept, below 1 = blurred",
    "new_high": "fraction of the output's energy above the input's Nyquist frequency: detail "
    "that was not in the input (blockiness, ringing, or sharp new edges); 0 = band-limited",
    "overshoot": "largest excursion of any channel beyond the input channel's min..max range, as "
    "a fraction of that range; 0 = no new extremes",
    "norm_ratio": "mean length of the per-pixel channel vectors, output / input; below 1 = "
    "vectors shrink where neighbours disagree",
    "norm_error": "mean |norm of each output vector - bilinearly interpolated input norms| / mean "
    "input norm; 0 = vector lengths follow the input smoothly",
    "roundtrip": "RMS difference after resizing the output back to the input size with 'area', "
    "relative to the input's standard deviation; 0 = nothing lost",
}
