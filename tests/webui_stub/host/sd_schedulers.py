"""Stub of ``modules.sd_schedulers`` (A1111 1.9+, Forge, reForge): the registry the hosts keep.

Every schedule is computed here from the host's formula (webui-hosts.md 3.4,
schedules-and-methods.md 2.4), written independently of the package: mostly in float64 with
numpy/scipy and cast to float32 at the end, the way the hosts hand back a FloatTensor. So "the
host computes the same schedule" can fail when the package drifts from the hosts.
``tests/test_stub_host_schedules.py`` checks these against the A1111 reference vectors.

reForge (main 3b56b268) gives two labels a different meaning; ``REFORGE`` holds those
functions and a host shape with ``reforge=True`` selects them. Forge-only entries raise.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import modules
import numpy as np
import torch
from modules import shared
from scipy import special

HOST = modules.HOST


@dataclasses.dataclass
class Scheduler:
    name: str
    label: str
    function: Any
    default_rho: float = -1
    need_inner_model: bool = False
    aliases: list[str] | None = None


def _as_host_tensor(values: Any, device: Any, *, final_zero: bool = True) -> torch.Tensor:
    """float64 values -> the host's float32 tensor, optionally with the closing 0."""
    out = np.asarray(values, dtype=np.float64)
    if final_zero:
        out = np.concatenate([out, [0.0]])
    return torch.tensor(out, dtype=torch.float32, device=device)


def _is_sdxl() -> bool:
    return bool(getattr(shared.sd_model, "is_sdxl", False))


# --- k-diffusion schedules (A1111 imports them unchanged) ----------------------------------


def uniform(n: int, sigma_min: float, sigma_max: float, inner_model: Any, device: Any) -> Any:
    # "Uniform" is the model wrapper's own evenly spaced timesteps
    return inner_model.get_sigmas(n).to(device)


def karras(
    n: int, sigma_min: float, sigma_max: float, rho: float = 7.0, device: Any = "cpu"
) -> Any:
    # evenly spaced in sigma ** (1 / rho), from sigma_max down to sigma_min
    ramp = torch.linspace(0, 1, n, device=device)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return torch.cat([(hi + ramp * (lo - hi)) ** rho, torch.zeros(1, device=device)])


def exponential(n: int, sigma_min: float, sigma_max: float, device: Any = "cpu") -> Any:
    # evenly spaced in log sigma
    logs = torch.linspace(math.log(sigma_max), math.log(sigma_min), n, device=device)
    return torch.cat([logs.exp(), torch.zeros(1, device=device)])


def polyexponential(
    n: int, sigma_min: float, sigma_max: float, rho: float = 1.0, device: Any = "cpu"
) -> Any:
    # log sigma = log sigma_min + (1 - i/(n-1)) ** rho * (log sigma_max - log sigma_min)
    ramp = torch.linspace(1, 0, n, device=device) ** rho
    span = math.log(sigma_max) - math.log(sigma_min)
    return torch.cat([(ramp * span + math.log(sigma_min)).exp(), torch.zeros(1, device=device)])


# --- the schedules WebUI 1.10 added --------------------------------------------------------


def _timesteps_to_sigmas(inner_model: Any, t: np.ndarray) -> list[float]:
    """The wrapper's log-linear t -> sigma for each fractional timestep."""
    return [float(inner_model.t_to_sigma(torch.tensor(float(x)))) for x in t]


def _t_range(inner_model: Any, sigma_min: float, sigma_max: float) -> tuple[float, float]:
    def to_t(sigma: float) -> float:
        return float(inner_model.sigma_to_t(torch.tensor([sigma], dtype=torch.float32)))

    return to_t(sigma_max), to_t(sigma_min)


def sgm_uniform(n: int, sigma_min: float, sigma_max: float, inner_model: Any, device: Any) -> Any:
    # n + 1 evenly spaced timesteps from t(sigma_max) to t(sigma_min), the last one dropped
    first, last = _t_range(inner_model, sigma_min, sigma_max)
    t = first + (last - first) * np.arange(n) / n
    return _as_host_tensor(_timesteps_to_sigmas(inner_model, t), device)


def normal(n: int, sigma_min: float, sigma_max: float, inner_model: Any, device: Any) -> Any:
    # n evenly spaced timesteps from t(sigma_max) to t(sigma_min), both ends included
    first, last = _t_range(inner_model, sigma_min, sigma_max)
    t = np.array([first]) if n == 1 else first + (last - first) * np.arange(n) / (n - 1)
    return _as_host_tensor(_timesteps_to_sigmas(inner_model, t), device)


def kl_optimal(n: int, sigma_min: float, sigma_max: float, device: Any) -> Any:
    # n + 1 values whose arctan falls evenly from atan(sigma_max) to atan(sigma_min); no zero
    fraction = np.arange(n + 1) / n
    angle = fraction * math.atan(sigma_min) + (1 - fraction) * math.atan(sigma_max)
    return _as_host_tensor(np.tan(angle), device, final_zero=False)


def simple(n: int, sigma_min: float, sigma_max: float, inner_model: Any, device: Any) -> Any:
    # every (len / n)-th table entry counted from the top, truncated to an index
    table = inner_model.sigmas.tolist()
    stride = len(table) / n
    picked = [table[len(table) - 1 - int(k * stride)] for k in range(n)]
    return _as_host_tensor(picked, device)


def ddim(n: int, sigma_min: float, sigma_max: float, inner_model: Any, device: Any) -> Any:
    # table entries 1, 1 + s, 1 + 2s, ... (s = len // n, at least 1), largest first
    table = inner_model.sigmas.tolist()
    stride = max(len(table) // n, 1)
    picked = [table[i] for i in range(1, len(table), stride)]
    return _as_host_tensor(picked[::-1], device)


def beta(n: int, sigma_min: float, sigma_max: float, inner_model: Any, device: Any) -> Any:
    # Beta(alpha, beta) quantiles at 1, ..., 0 (both ends), placed linearly between the sigmas
    a, b = shared.opts.beta_dist_alpha, shared.opts.beta_dist_beta
    levels = np.array([1.0]) if n == 1 else 1 - np.arange(n) / (n - 1)
    quantiles = special.betaincinv(a, b, levels)
    return _as_host_tensor(sigma_min + quantiles * (sigma_max - sigma_min), device)


# Align Your Steps, 11 noise levels (3 decimals, as A1111 1.10 carries them)
AYS_SD1 = (14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029)
AYS_SDXL = (14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.380, 0.234, 0.113, 0.029)


def _ays_resample(levels: tuple[float, ...] | list[float], n: int) -> list[float]:
    """The levels, or ``n`` points log-linearly interpolated along them when n != their count.

    The hosts place the n points from the *smallest* level up, so one point is the last level.
    """
    m = len(levels)
    if n == m:
        return list(levels)
    ascending = [math.log(v) for v in reversed(levels)]
    out = []
    for k in range(n):
        pos = (k / (n - 1) if n > 1 else 0.0) * (m - 1)
        i = min(int(pos), m - 2)
        w = pos - i
        out.append(math.exp((1 - w) * ascending[i] + w * ascending[i + 1]))
    return out[::-1]


def align_your_steps(n: int, sigma_min: float, sigma_max: float, device: Any) -> Any:
    levels = AYS_SDXL if _is_sdxl() else AYS_SD1
    return _as_host_tensor(_ays_resample(levels, n), device)


# --- reForge main (3b56b268): same labels, other schedules (webui-hosts.md 15) --------------

# reForge's Align Your Steps: sigma_max divided by these ratios, then the fixed 0.029
REFORGE_AYS_RATIOS_SD1 = (1, 2.257, 3.785, 5.418, 7.749, 10.469, 15.176, 22.415, 36.629, 96.151)
REFORGE_AYS_RATIOS_SDXL = (1, 2.314, 3.875, 6.701, 10.89, 16.954, 26.333, 38.46, 62.457, 129.336)


def reforge_align_your_steps(n: int, sigma_min: float, sigma_max: float, device: Any) -> Any:
    ratios = REFORGE_AYS_RATIOS_SDXL if _is_sdxl() else REFORGE_AYS_RATIOS_SD1
    levels = [sigma_max / r for r in ratios] + [0.029]
    return _as_host_tensor(_ays_resample(levels, n), device)


def reforge_beta(n: int, sigma_min: float, sigma_max: float, inner_model: Any, device: Any) -> Any:
    # ComfyUI's beta: quantiles at 1, 1 - 1/n, ..., 1/n (no 0) pick whole timesteps of the
    # table; a timestep equal to the one before it is skipped
    a, b = shared.opts.beta_dist_alpha, shared.opts.beta_dist_beta
    table = inner_model.sigmas.tolist()
    last_t = len(table) - 1
    timesteps = np.rint(special.betaincinv(a, b, 1 - np.arange(n) / n) * last_t).astype(int)
    picked, previous = [], None
    for t in timesteps.tolist():
        if t != previous:
            picked.append(table[t])
        previous = t
    return _as_host_tensor(picked, device)


def _forge_only(*_args: Any, **_kwargs: Any) -> Any:
    raise NotImplementedError("Forge-only schedule: not reproduced by the stub")


# name -> (function, default_rho, need_inner_model)
A1111 = {
    "automatic": (None, -1, False),
    "uniform": (uniform, -1, True),
    "karras": (karras, 7.0, False),
    "exponential": (exponential, -1, False),
    "polyexponential": (polyexponential, 1.0, False),
    "sgm_uniform": (sgm_uniform, -1, True),
    "kl_optimal": (kl_optimal, -1, False),
    "align_your_steps": (align_your_steps, -1, False),
    "simple": (simple, -1, True),
    "normal": (normal, -1, True),
    "ddim": (ddim, -1, True),
    "beta": (beta, -1, True),
}
REFORGE = {
    **A1111,
    "align_your_steps": (reforge_align_your_steps, -1, False),
    "beta": (reforge_beta, -1, True),
}
_FUNCTIONS = REFORGE if getattr(HOST, "reforge", False) else A1111

schedulers = []
for _name, _label in HOST.schedulers:
    _function, _rho, _inner = _FUNCTIONS.get(_name, (_forge_only, -1, False))
    _aliases = ["SGMUniform"] if _name == "sgm_uniform" else None
    schedulers.append(Scheduler(_name, _label, _function, _rho, _inner, _aliases))

schedulers_map = {**{s.name: s for s in schedulers}, **{s.label: s for s in schedulers}}
