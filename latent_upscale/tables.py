"""Discrete sigma tables of SD1.x / SDXL and the timestep <-> sigma mapping used on them.

Tables are ascending (index 0 = smallest sigma), as k-diffusion's ``DiscreteSchedule.sigmas``
and ComfyUI's ``ModelSamplingDiscrete.sigmas`` hold them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

__all__ = [
    "TABLE_KINDS",
    "as_table",
    "discrete_sigmas",
    "sigma_to_t",
    "t_to_sigma",
]

BETA_START = 0.00085
BETA_END = 0.012
NUM_TIMESTEPS = 1000


def alphas_cumprod(n: int = NUM_TIMESTEPS) -> Tensor:
    """Cumulative alpha products of the SD "scaled linear" beta schedule in float64 (ldm)."""
    betas = torch.linspace(BETA_START**0.5, BETA_END**0.5, n, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, dim=0)


def _sigmas_from(ac: Tensor) -> Tensor:
    """``sqrt((1 - ac) / ac)`` in the dtype of ``ac`` (k-diffusion CompVisDenoiser)."""
    return ((1 - ac) / ac) ** 0.5


def _float64() -> Tensor:
    """All in float64."""
    return _sigmas_from(alphas_cumprod())


def _comfyui() -> Tensor:
    """ComfyUI / Forge ModelSamplingDiscrete: sigmas in float64, then cast to float32."""
    return _sigmas_from(alphas_cumprod()).float()


def _a1111() -> Tensor:
    """A1111 >= 1.8: float32 ``alphas_cumprod`` buffer, sigmas in float32 (k-diffusion)."""
    return _sigmas_from(alphas_cumprod().float())


def _a1111_fp16() -> Tensor:
    """A1111 < 1.8 with a half model, or "Downcast model alphas_cumprod to fp16": float16."""
    return _sigmas_from(alphas_cumprod().float().half())


TABLE_KINDS: dict[str, Callable[[], Tensor]] = {
    "a1111": _a1111,
    "comfyui": _comfyui,
    "float64": _float64,
    "a1111_fp16": _a1111_fp16,
}


def discrete_sigmas(kind: str = "a1111") -> Tensor:
    """The 1000-entry ascending SD1.x/SDXL sigma table as materialised by host ``kind``.

    ``"a1111"`` and ``"comfyui"`` are float32, ``"float64"`` float64, ``"a1111_fp16"`` float16
    (the dtype each host keeps), all on the CPU.
    """
    try:
        build = TABLE_KINDS[kind]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown sigma table kind {kind!r}; valid kinds: {', '.join(TABLE_KINDS)}"
        ) from None
    return build()


KEPT_DTYPES = (torch.float16, torch.float32, torch.float64)


def as_table(table: Tensor | Sequence[float]) -> Tensor:
    """``table`` as a validated 1-D ascending positive floating CPU tensor.

    float16/32/64 are kept (the float16 table's coarse logs are part of what hosts computed);
    other float types (bfloat16, whose 8-bit mantissa merges neighbouring SD log-sigmas) are
    computed in float32.
    """
    t = torch.as_tensor(table).detach()
    if not t.is_floating_point():
        raise ValueError(f"sigma table must be a floating point tensor, got dtype {t.dtype}")
    t = t.to("cpu") if t.dtype in KEPT_DTYPES else t.to(device="cpu", dtype=torch.float32)
    if t.ndim != 1 or t.numel() < 2:
        raise ValueError(
            f"sigma table must be 1-D with at least 2 entries, got shape {tuple(t.shape)}"
        )
    if not bool(torch.isfinite(t).all()) or not bool((t > 0).all()):
        raise ValueError("sigma table entries must be finite and > 0")
    if bool((t[1:] < t[:-1]).any()):
        raise ValueError(
            "sigma table must be ascending (index 0 = smallest sigma), like k-diffusion"
        )
    return t


def t_to_sigma(
    t: Tensor | float | Sequence[float], table: Tensor, *, clamp: bool = False
) -> Tensor:
    """Sigma at (fractional) timestep ``t`` by log-linear interpolation of ``table``.

    k-diffusion ``DiscreteSchedule.t_to_sigma``; ``clamp=True`` first clamps ``t`` to the table
    like ComfyUI ``ModelSamplingDiscrete.sigma``. Without clamping, ``t`` outside
    ``[0, len(table) - 1]`` raises ValueError (k-diffusion would index out of range or wrap).
    """
    table = as_table(table)
    t = torch.as_tensor(t).to("cpu").float()
    t_max = table.numel() - 1
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"timesteps must be finite, got {t.tolist()}")
    if clamp:
        t = t.clamp(0, t_max)
    elif bool((t < 0).any()) or bool((t > t_max).any()):
        raise ValueError(f"timestep out of range [0, {t_max}]: {t.tolist()}")
    log_sigmas = table.log()
    low, high, w = t.floor().long(), t.ceil().long(), t.frac()
    return ((1 - w) * log_sigmas[low] + w * log_sigmas[high]).exp()


def sigma_to_t(
    sigma: Tensor | float | Sequence[float], table: Tensor, *, quantize: bool = False
) -> Tensor:
    """Timestep of ``sigma`` on ``table``: k-diffusion ``DiscreteSchedule.sigma_to_t``.

    ``quantize=True`` returns the index of the nearest log-sigma (also ComfyUI's
    ``ModelSamplingDiscrete.timestep``); otherwise the log-linear fractional timestep, clamped
    to the table's ends.
    """
    table = as_table(table)
    sigma = torch.as_tensor(sigma).to("cpu")
    if not sigma.is_floating_point():
        sigma = sigma.float()
    log_sigmas = table.log()
    log_sigma = sigma.log()
    dists = log_sigma - log_sigmas[:, None]
    if quantize:
        return dists.abs().argmin(dim=0).view(sigma.shape)
    low = dists.ge(0).cumsum(dim=0).argmax(dim=0).clamp(max=log_sigmas.shape[0] - 2)
    high = low + 1
    lo, hi = log_sigmas[low], log_sigmas[high]
    # equal neighbours (a table with repeated entries) would give 0/0 in k-diffusion: take lo
    w = torch.where(lo == hi, 0.0, (lo - log_sigma) / (lo - hi)).clamp(0, 1)
    return ((1 - w) * low + w * high).view(sigma.shape)
