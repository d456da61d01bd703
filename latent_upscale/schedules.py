"""Sigma schedules of the WebUI (1.10), ComfyUI and k-diffusion, computed as they compute them.

``get_sigmas(name, steps, table)`` returns the descending float32 CPU sigmas a sampler runs,
with the reference's length and final zero. ``table`` is the model's ascending discrete sigma
table (the WebUI's ``model_wrap.sigmas``); ``SCHEDULES`` lists every schedule in display order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from numbers import Integral, Real
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from latent_upscale.tables import as_table, sigma_to_t, t_to_sigma

__all__ = [
    "AUTOMATIC",
    "AYS_COMFYUI",
    "AYS_WEBUI",
    "KDIFFUSION_SAMPLERS",
    "SCHEDULES",
    "Schedule",
    "automatic_choice",
    "check_flow",
    "discards_penultimate",
    "drop_penultimate",
    "get_sigmas",
    "is_flow_table",
    "resolve_schedule",
]

AUTOMATIC = "automatic"  # the host's own choice for the sampler


class Inputs(NamedTuple):
    """What a schedule may read: the table (ascending, CPU) and the sigma range."""

    table: Tensor | None
    sigma_min: float | None
    sigma_max: float | None
    sdxl: bool


# ---------------------------------------------------------------------------------------------
# Small helpers


def append_zero(x: Tensor) -> Tensor:
    """``x`` with a final 0 (k-diffusion ``append_zero``)."""
    return torch.cat([x, x.new_zeros([1])])


def drop_penultimate(sigmas: Tensor) -> Tensor:
    """``sigmas`` without the next-to-last value (WebUI / ComfyUI "discard penultimate sigma")."""
    return torch.cat([sigmas[:-2], sigmas[-1:]])


def loglinear_interp(values: list[float], num: int) -> np.ndarray:
    """Resample a descending list to ``num`` points, linearly in log-sigma, float64 (AYS how-to)."""
    xs = np.linspace(0, 1, len(values))
    ys = np.log(np.asarray(values, dtype=np.float64)[::-1])
    new_ys = np.interp(np.linspace(0, 1, num), xs, ys)
    return np.exp(new_ys)[::-1].copy()


# ---------------------------------------------------------------------------------------------
# k-diffusion range schedules (sigma_min / sigma_max only)


def karras(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> Tensor:
    """Karras et al. (2022) rho-spaced sigmas, +0 (k-diffusion ``get_sigmas_karras``)."""
    ramp = torch.linspace(0, 1, n)
    min_inv_rho = sigma_min ** (1 / rho)
    max_inv_rho = sigma_max ** (1 / rho)
    return append_zero((max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho)


def exponential(n: int, sigma_min: float, sigma_max: float) -> Tensor:
    """Sigmas evenly spaced in log-sigma, +0 (k-diffusion ``get_sigmas_exponential``)."""
    return append_zero(torch.linspace(math.log(sigma_max), math.log(sigma_min), n).exp())


def polyexponential(n: int, sigma_min: float, sigma_max: float, rho: float = 1.0) -> Tensor:
    """Log-sigma spacing warped by ``rho``, +0 (k-diffusion ``get_sigmas_polyexponential``)."""
    ramp = torch.linspace(1, 0, n) ** rho
    log_min, log_max = math.log(sigma_min), math.log(sigma_max)
    return append_zero(torch.exp(ramp * (log_max - log_min) + log_min))


def kl_optimal_webui(n: int, sigma_min: float, sigma_max: float) -> Tensor:
    """n+1 points linear in arctan(sigma) ending at sigma_min, no zero (WebUI ``kl_optimal``)."""
    alpha_min = torch.arctan(torch.tensor(sigma_min))
    alpha_max = torch.arctan(torch.tensor(sigma_max))
    idx = torch.arange(n + 1)
    return torch.tan(idx / n * alpha_min + (1.0 - idx / n) * alpha_max)


def kl_optimal_comfyui(n: int, sigma_min: float, sigma_max: float) -> Tensor:
    """n points linear in arctan(sigma) ending at sigma_min, +0 (ComfyUI ``kl_optimal_scheduler``).

    ComfyUI divides by ``n - 1`` and returns [NaN, 0] at one step; we return [sigma_max, 0].
    """
    if n == 1:
        return torch.tensor([sigma_max, 0.0], dtype=torch.float32)
    adj = torch.arange(n, dtype=torch.float32).div(n - 1)
    sigmas = adj.new_zeros(n + 1)
    sigmas[:-1] = (adj * math.atan(sigma_min) + (1 - adj) * math.atan(sigma_max)).tan()
    return sigmas


def linear_quadratic(n: int, sigma_max: float, threshold_noise: float = 0.025) -> Tensor:
    """Mochi's linear-then-quadratic schedule scaled by sigma_max (ComfyUI ``linear_quadratic``)."""
    if n == 1:
        schedule = [1.0, 0.0]
    else:
        lin = n // 2
        quad = n - lin
        step_diff = lin - threshold_noise * n
        a = step_diff / (lin * quad**2)
        b = threshold_noise / lin - 2 * step_diff / quad**2
        c = a * lin**2
        linear_part = [i * threshold_noise / lin for i in range(lin)]
        quadratic_part = [a * i**2 + b * i + c for i in range(lin, n)]
        schedule = [1.0 - x for x in [*linear_part, *quadratic_part, 1.0]]
    return torch.tensor(schedule, dtype=torch.float32) * torch.tensor(sigma_max)


def beta_webui(n: int, sigma_min: float, sigma_max: float, alpha: float, beta: float) -> Tensor:
    """Beta(alpha, beta) quantiles placed linearly in sigma, +0 (WebUI ``beta_scheduler``)."""
    from scipy import stats  # here, not at import: scipy.stats takes about a second to load

    quantiles = stats.beta.ppf(1 - np.linspace(0, 1, n), alpha, beta)
    sigmas = [sigma_min + float(q) * (sigma_max - sigma_min) for q in quantiles]
    return torch.tensor([*sigmas, 0.0], dtype=torch.float32)


# ---------------------------------------------------------------------------------------------
# Table schedules


def uniform(n: int, table: Tensor) -> Tensor:
    """Timesteps linspace(T-1, 0, n) on the table, +0 (k-diffusion DiscreteSchedule.get_sigmas)."""
    t = torch.linspace(table.numel() - 1, 0, n)
    return append_zero(t_to_sigma(t, table))


def normal(
    n: int, table: Tensor, sigma_min: float, sigma_max: float, *, sgm: bool = False
) -> Tensor:
    """Timesteps linspace(t(sigma_max), t(sigma_min)) on the table, +0 (WebUI / ComfyUI normal).

    ``sgm`` takes n of n+1 points (SGM Uniform). Without ``sgm``, a table whose smallest sigma is
    about 0 gets n+1 points and no appended zero (ComfyUI's zero-SNR branch).
    """
    start = sigma_to_t(torch.tensor(sigma_max), table)
    end = sigma_to_t(torch.tensor(sigma_min), table)
    zero_end = not sgm and math.isclose(float(t_to_sigma(end, table)), 0, abs_tol=1e-5)
    if sgm:
        timesteps = torch.linspace(start, end, n + 1)[:-1]
    else:
        timesteps = torch.linspace(start, end, n + 1 if zero_end else n)
    sigmas = t_to_sigma(timesteps, table).float()
    return sigmas if zero_end else append_zero(sigmas)


def simple(n: int, table: Tensor) -> Tensor:
    """Every (len/n)-th table entry from the top, +0 (ComfyUI / WebUI ``simple_scheduler``)."""
    step = table.numel() / n
    sigs = [float(table[-(1 + int(x * step))]) for x in range(n)]
    return torch.tensor([*sigs, 0.0], dtype=torch.float32)


def ddim_uniform(n: int, table: Tensor) -> Tensor:
    """Entries 1, 1+k, 1+2k, ... (k = len // n) reversed, +0 (WebUI ddim, ComfyUI ddim_uniform).

    A table whose entry 1 is about 0 gets one more step and no zero (ComfyUI's zero-SNR branch).
    """
    zero_snr = math.isclose(float(table[1]), 0, abs_tol=1e-5)
    if zero_snr:
        n += 1
    step = max(table.numel() // n, 1)
    sigs = [float(table[x]) for x in range(1, table.numel(), step)][::-1]
    return torch.tensor(sigs if zero_snr else [*sigs, 0.0], dtype=torch.float32)


def beta_comfyui(n: int, table: Tensor, alpha: float, beta: float) -> Tensor:
    """Beta quantiles pick discrete timesteps, repeats dropped, +0 (ComfyUI ``beta_scheduler``)."""
    from scipy import stats  # here, not at import: scipy.stats takes about a second to load

    total = table.numel() - 1
    ts = np.rint(stats.beta.ppf(1 - np.linspace(0, 1, n, endpoint=False), alpha, beta) * total)
    sigs: list[float] = []
    last = -1.0
    for t in ts:
        if t != last:
            sigs.append(float(table[int(t)]))
        last = t
    return torch.tensor([*sigs, 0.0], dtype=torch.float32)


# ---------------------------------------------------------------------------------------------
# Align Your Steps (fixed 10-step tables, model range ignored)

AYS_WEBUI = MappingProxyType(
    {
        "SD1": (14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029),
        "SDXL": (14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.380, 0.234, 0.113, 0.029),
    }
)
AYS_COMFYUI = MappingProxyType(
    {
        "SD1": (14.6146412293, 6.4745760956, 3.8636745985, 2.6946151520, 1.8841921177,
                1.3943805092, 0.9642583904, 0.6523686016, 0.3977456272, 0.1515232662,
                0.0291671582),
        "SDXL": (14.6146412293, 6.3184485287, 3.7681790315, 2.1811480769, 1.3405244945,
                 0.8620721141, 0.5550693289, 0.3798540708, 0.2332364134, 0.1114188177,
                 0.0291671582),
    }
)  # fmt: skip


def align_your_steps_webui(n: int, sdxl: bool) -> Tensor:
    """NVIDIA AYS table interpolated to n points, +0 (WebUI ``get_align_your_steps_sigmas``)."""
    table = list(AYS_WEBUI["SDXL" if sdxl else "SD1"])
    sigmas = table if n == len(table) else list(loglinear_interp(table, n))
    return torch.tensor([*sigmas, 0.0], dtype=torch.float32)


def align_your_steps_comfyui(n: int, sdxl: bool, denoise: float = 1.0) -> Tensor:
    """AYS table to n+1 points, last ``round(n*denoise)+1`` kept, last set to 0 (ComfyUI node)."""
    table = list(AYS_COMFYUI["SDXL" if sdxl else "SD1"])
    sigmas = np.asarray(table if n + 1 == len(table) else loglinear_interp(table, n + 1))
    keep = n if denoise >= 1.0 else round(n * denoise)
    sigmas = sigmas[-(keep + 1) :].copy()
    sigmas[-1] = 0.0
    return torch.tensor(sigmas, dtype=torch.float32)


# ---------------------------------------------------------------------------------------------
# WebUI "Automatic": the sampler's default scheduler

AUTOMATIC_SCHEDULE: Mapping[str, str] = MappingProxyType(
    {
        "DPM++ 2M": "karras",
        "DPM++ SDE": "karras",
        "DPM++ 2S a": "karras",
        "DPM2": "karras",
        "DPM2 a": "karras",
        "Restart": "karras",
        "DPM++ 2M SDE": "exponential",
        "DPM++ 2M SDE Heun": "exponential",
        "DPM++ 3M SDE": "exponential",
    }
)
DISCARDS_PENULTIMATE = frozenset({"DPM2", "DPM2 a", "DPM++ 3M SDE"})
# WebUI 1.10's k-diffusion samplers (they run custom schedules); the timestep samplers (DDIM,
# PLMS, UniPC, LCM) ignore them
KDIFFUSION_SAMPLERS = (
    "DPM++ 2M", "DPM++ SDE", "DPM++ 2M SDE", "DPM++ 2M SDE Heun", "DPM++ 2S a", "DPM++ 3M SDE",
    "Euler a", "Euler", "LMS", "Heun", "DPM2", "DPM2 a", "DPM fast", "DPM adaptive", "Restart",
)  # fmt: skip


def discards_penultimate(sampler: str) -> bool:
    """Whether the WebUI drops the next-to-last sigma for ``sampler`` (it asks for one more)."""
    return sampler in DISCARDS_PENULTIMATE


def automatic_choice(sampler: str) -> tuple[str, bool]:
    """(schedule name, discard penultimate sigma) WebUI 1.10 uses for ``sampler`` on "Automatic".

    Samplers without a default scheduler (Euler, Euler a, LMS, Heun, DPM fast, DPM adaptive, LCM,
    names from extensions) get ``"uniform"`` (``model_wrap.get_sigmas``).
    """
    return AUTOMATIC_SCHEDULE.get(sampler, "uniform"), sampler in DISCARDS_PENULTIMATE


# ---------------------------------------------------------------------------------------------
# Adapters: (n, Inputs, **params) -> Tensor


def _need_table(x: Inputs) -> Tensor:
    assert x.table is not None  # checked by get_sigmas through Schedule.needs_table
    return x.table


def _range(x: Inputs) -> tuple[float, float]:
    assert x.sigma_min is not None  # checked by get_sigmas through Schedule.needs_range
    assert x.sigma_max is not None
    return x.sigma_min, x.sigma_max


def _automatic(n: int, x: Inputs, sampler: str) -> Tensor:
    if not isinstance(sampler, str):
        raise ValueError(f"sampler must be a WebUI sampler name such as 'Euler', got {sampler!r}")
    name, discard = automatic_choice(sampler)
    chosen = SCHEDULES[name]
    sigmas = chosen.function(n + 1 if discard else n, x, **chosen.params)
    return drop_penultimate(sigmas) if discard else sigmas


def _normal(n: int, x: Inputs) -> Tensor:
    return normal(n, _need_table(x), *_range(x))


def _sgm_uniform(n: int, x: Inputs) -> Tensor:
    return normal(n, _need_table(x), *_range(x), sgm=True)


def _checked_positive(**values: float) -> None:
    for key, value in values.items():
        if not isinstance(value, Real) or isinstance(value, bool) or not 0 < value < math.inf:
            raise ValueError(f"{key} must be a finite number > 0, got {value!r}")


def _karras(n: int, x: Inputs, rho: float) -> Tensor:
    _checked_positive(rho=rho)
    return karras(n, *_range(x), rho=float(rho))


def _polyexponential(n: int, x: Inputs, rho: float) -> Tensor:
    _checked_positive(rho=rho)
    return polyexponential(n, *_range(x), rho=float(rho))


def _beta(n: int, x: Inputs, alpha: float, beta: float) -> Tensor:
    _checked_positive(alpha=alpha, beta=beta)
    return beta_webui(n, *_range(x), float(alpha), float(beta))


def _beta_comfyui(n: int, x: Inputs, alpha: float, beta: float) -> Tensor:
    _checked_positive(alpha=alpha, beta=beta)
    return beta_comfyui(n, _need_table(x), float(alpha), float(beta))


def _linear_quadratic(n: int, x: Inputs, threshold_noise: float) -> Tensor:
    _checked_positive(threshold_noise=threshold_noise)
    if threshold_noise >= 1:
        raise ValueError(f"threshold_noise must be in (0, 1), got {threshold_noise!r}")
    return linear_quadratic(n, _range(x)[1], float(threshold_noise))


def _ays_comfyui(n: int, x: Inputs, denoise: float) -> Tensor:
    _checked_positive(denoise=denoise)
    if denoise > 1:
        raise ValueError(f"denoise must be in (0, 1], got {denoise!r}")
    return align_your_steps_comfyui(n, x.sdxl, float(denoise))


# ---------------------------------------------------------------------------------------------
# Registry

WEBUI = "WebUI 1.10"
COMFYUI = "ComfyUI"
BOTH = "WebUI 1.10 and ComfyUI"


@dataclass(frozen=True)
class Schedule:
    """One selectable sigma schedule."""

    name: str
    label: str
    reference: str
    needs_table: bool  # reads the discrete table (not only sigma_min / sigma_max)
    needs_range: bool  # reads sigma_min / sigma_max (defaults: the table's ends)
    description: str
    function: Callable[..., Tensor] = field(repr=False, compare=False)
    params: Mapping[str, Any] = field(default_factory=dict, compare=False)
    aliases: tuple[str, ...] = ()
    # defined only for SD-style discrete tables (fixed SD/SDXL numbers, or the table's timestep
    # mapping): refused for flow-matching models (SD3, Flux), whose sigmas lie in (0, 1]
    sd_only: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))


_LIST = (
    Schedule(
        "automatic", "Automatic", WEBUI, True, True,
        "What the WebUI picks for the given sampler (Karras for DPM++ 2M/SDE and DPM2, "
        "Exponential for DPM++ 2M/3M SDE, otherwise Uniform); use it to keep the host's default.",
        _automatic, {"sampler": "Euler"},
    ),
    Schedule(
        "simple", "Simple", BOTH, True, False,
        "Evenly spaced entries of the model's own noise table, read from the top; a dependable "
        "all-round choice and ComfyUI's usual default.",
        lambda n, x: simple(n, _need_table(x)),
    ),
    Schedule(
        "normal", "Normal", BOTH, True, True,
        "Evenly spaced timesteps between the top and bottom of the model's range, interpolated in "
        "log-sigma (identical to Uniform on SD models); the classic choice for Euler.",
        _normal, sd_only=True,
    ),
    Schedule(
        "karras", "Karras", BOTH, False, True,
        "Karras et al. (2022) rho-spaced sigmas that spend more steps at low noise; the usual "
        "pick for DPM++ 2M and for keeping fine detail at low denoise.",
        _karras, {"rho": 7.0},
    ),
    Schedule(
        "exponential", "Exponential", BOTH, False, True,
        "Sigmas evenly spaced in log-sigma, even more weight on low noise than Karras; "
        "recommended for the DPM++ SDE samplers.",
        lambda n, x: exponential(n, *_range(x)),
    ),
    Schedule(
        "polyexponential", "Polyexponential", WEBUI, False, True,
        "Log-sigma spacing bent by rho (rho 1 is Exponential); raise rho to move steps toward "
        "low noise.",
        _polyexponential, {"rho": 1.0},
    ),
    Schedule(
        "sgm_uniform", "SGM Uniform", BOTH, True, True,
        "Like Normal but stops one interval above the bottom of the range, as Stability's SGM "
        "code does; suits SDXL Turbo/Lightning-style models.",
        _sgm_uniform, aliases=("SGMUniform",), sd_only=True,
    ),
    Schedule(
        "ddim_uniform", "DDIM", BOTH, True, False,
        "Every k-th timestep of the table as DDIM samples them (may run a few more steps than "
        "asked); for parity with DDIM-style sampling.",
        lambda n, x: ddim_uniform(n, _need_table(x)), aliases=("ddim", "DDIM Uniform"),
    ),
    Schedule(
        "beta", "Beta", WEBUI, False, True,
        "WebUI Beta: Beta(alpha, beta) quantiles placed linearly in sigma, denser at both ends "
        "of the range (Lee et al. 2024, arXiv 2407.12173).",
        _beta, {"alpha": 0.6, "beta": 0.6},
    ),
    Schedule(
        "kl_optimal", "KL Optimal", WEBUI, False, True,
        "Steps evenly spaced in arctan(sigma); the WebUI version ends at sigma_min without a "
        "final zero, leaving a trace of noise.",
        lambda n, x: kl_optimal_webui(n, *_range(x)),
    ),
    Schedule(
        "linear_quadratic", "Linear Quadratic", COMFYUI, False, True,
        "Mochi's schedule: half the steps stay near the top of the range, then a quadratic "
        "fall; made for video/flow models, rarely useful for SD upscaling.",
        _linear_quadratic, {"threshold_noise": 0.025}, aliases=("Linear-Quadratic",),
    ),
    Schedule(
        "align_your_steps", "Align Your Steps", WEBUI, False, False,
        "NVIDIA's tuned 10-step SD1/SDXL sigmas log-interpolated to the step count (ignores the "
        "model's range); strong at 10-20 steps.",
        lambda n, x: align_your_steps_webui(n, x.sdxl), aliases=("AYS",), sd_only=True,
    ),
    Schedule(
        "uniform", "Uniform", WEBUI, True, False,
        "k-diffusion's default: timesteps evenly spaced from the top of the table to the bottom "
        "(same as Normal on SD models).",
        lambda n, x: uniform(n, _need_table(x)), sd_only=True,
    ),
    Schedule(
        "beta_comfyui", "Beta (ComfyUI)", COMFYUI, True, False,
        "ComfyUI Beta: Beta(alpha, beta) quantiles choose discrete timesteps, repeats dropped "
        "(very high step counts run fewer steps).",
        _beta_comfyui, {"alpha": 0.6, "beta": 0.6},
    ),
    Schedule(
        "kl_optimal_comfyui", "KL Optimal (ComfyUI)", COMFYUI, False, True,
        "ComfyUI KL Optimal: steps points evenly spaced in arctan(sigma) ending at sigma_min, "
        "then a final zero.",
        lambda n, x: kl_optimal_comfyui(n, *_range(x)),
    ),
    Schedule(
        "align_your_steps_comfyui", "Align Your Steps (ComfyUI)", COMFYUI, False, False,
        "ComfyUI's Align Your Steps node: steps+1 interpolated points with the last replaced by "
        "zero, so it ends one step higher than the WebUI version.",
        _ays_comfyui, {"denoise": 1.0}, aliases=("AYS (ComfyUI)",), sd_only=True,
    ),
)  # fmt: skip

SCHEDULES: Mapping[str, Schedule] = MappingProxyType({s.name: s for s in _LIST})

_LOOKUP: dict[str, Schedule] = {}
for _s in _LIST:
    for _key in (_s.name, _s.label, *_s.aliases):
        _LOOKUP.setdefault(_key, _s)
_LOOKUP_FOLDED = {k.casefold(): v for k, v in _LOOKUP.items()}


def resolve_schedule(name_or_label: str) -> Schedule:
    """The schedule called ``name_or_label``: name, UI label or alias (exact, then any case)."""
    if isinstance(name_or_label, Schedule):
        return name_or_label
    if not isinstance(name_or_label, str):
        raise ValueError(f"schedule name must be a string, got {name_or_label!r}")
    found = _LOOKUP.get(name_or_label) or _LOOKUP_FOLDED.get(name_or_label.strip().casefold())
    if found is None:
        raise ValueError(
            f"unknown schedule {name_or_label!r}; valid names: {', '.join(SCHEDULES)} "
            f"(UI labels are accepted too: {', '.join(s.label for s in _LIST)})"
        )
    return found


def _check_steps(steps: object) -> int:
    if isinstance(steps, bool) or not isinstance(steps, Integral) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    return int(steps)


def _check_params(schedule: Schedule, params: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(params) - set(schedule.params))
    if unknown:
        accepted = ", ".join(f"{k}={v!r}" for k, v in schedule.params.items()) or "none"
        raise ValueError(
            f"schedule {schedule.name!r} got unknown parameter(s) {', '.join(unknown)}; "
            f"accepted: {accepted}"
        )
    return {**schedule.params, **params}


def _sigma(value: object, key: str) -> float:
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 < value < math.inf:
        raise ValueError(f"{key} must be a finite number > 0, got {value!r}")
    return float(value)


FLOW_SIGMA_MAX = 1.001  # flow-matching tables end at sigma 1; SD tables near 14.6 (or above)


def is_flow_table(table: Tensor) -> bool:
    """Whether ``table`` is a flow-matching model's (SD3, Flux): every sigma in (0, 1]."""
    return float(as_table(table)[-1]) <= FLOW_SIGMA_MAX


def check_flow(schedule: Schedule) -> None:
    """ValueError for a schedule that is not defined on a flow-matching model's sigmas."""
    if schedule.sd_only:
        working = ", ".join(s.name for s in _LIST if not s.sd_only)
        raise ValueError(
            f"schedule {schedule.name!r} is defined for SD-style models only (it uses fixed "
            "SD/SDXL sigmas or the SD timestep table), and this is a flow-matching model "
            f"(sigmas in (0, 1], e.g. SD3 or Flux); schedules that work here: {working}"
        )


def _inputs(
    schedule: Schedule,
    table: Tensor | None,
    sigma_min: object,
    sigma_max: object,
    sdxl: bool,
) -> Inputs:
    if table is not None:
        table = as_table(table)
        if is_flow_table(table):
            check_flow(schedule)
        sigma_min = table[0].item() if sigma_min is None else sigma_min
        sigma_max = table[-1].item() if sigma_max is None else sigma_max
    elif schedule.needs_table:
        raise ValueError(
            f"schedule {schedule.name!r} reads the model's discrete sigma table: pass table= "
            "(ascending, e.g. model_wrap.sigmas or latent_upscale.discrete_sigmas())"
        )
    if not schedule.needs_range:
        return Inputs(table, None, None, bool(sdxl))
    if sigma_min is None or sigma_max is None:
        raise ValueError(
            f"schedule {schedule.name!r} needs sigma_min and sigma_max, "
            "or a table to take them from"
        )
    lo, hi = _sigma(sigma_min, "sigma_min"), _sigma(sigma_max, "sigma_max")
    if lo >= hi:
        raise ValueError(f"sigma_min must be below sigma_max, got {lo!r} >= {hi!r}")
    return Inputs(table, lo, hi, bool(sdxl))


def get_sigmas(
    name: str,
    steps: int,
    table: Tensor | None = None,
    *,
    sigma_min: float | None = None,
    sigma_max: float | None = None,
    sdxl: bool = False,
    **params: Any,
) -> Tensor:
    """The sigmas of schedule ``name`` for ``steps`` steps, as its reference returns them.

    ``table``: the model's ascending discrete sigma table (any device, any float dtype; its ends
    are the default ``sigma_min`` / ``sigma_max``). ``sdxl`` selects the SDXL Align Your Steps
    table. ``params``: the schedule's options (``SCHEDULES[name].params``). Returns a 1-D float32
    CPU tensor, descending.
    """
    schedule = resolve_schedule(name)
    n = _check_steps(steps)
    kwargs = _check_params(schedule, params)
    inputs = _inputs(schedule, table, sigma_min, sigma_max, sdxl)
    return schedule.function(n, inputs, **kwargs).to(device="cpu", dtype=torch.float32)
