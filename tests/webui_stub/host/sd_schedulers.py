"""Stub of ``modules.sd_schedulers`` (A1111 1.9+, Forge): the registry the hosts keep.

Uniform, Karras, Exponential and Polyexponential are computed here independently (k-diffusion's
formulas); the other WebUI 1.10 schedules reuse the package's implementation of the same
schedule, which its own golden-file tests check against the WebUI. Forge-only entries raise.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import modules
import torch
from modules import shared

HOST = modules.HOST


@dataclasses.dataclass
class Scheduler:
    name: str
    label: str
    function: Any
    default_rho: float = -1
    need_inner_model: bool = False
    aliases: list[str] | None = None


def _zero(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, x.new_zeros([1])])


def uniform(n: int, sigma_min: float, sigma_max: float, inner_model: Any, device: Any) -> Any:
    return inner_model.get_sigmas(n).to(device)


def karras(
    n: int, sigma_min: float, sigma_max: float, rho: float = 7.0, device: Any = "cpu"
) -> Any:
    ramp = torch.linspace(0, 1, n, device=device)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return _zero((hi + ramp * (lo - hi)) ** rho)


def exponential(n: int, sigma_min: float, sigma_max: float, device: Any = "cpu") -> Any:
    return _zero(torch.linspace(math.log(sigma_max), math.log(sigma_min), n, device=device).exp())


def polyexponential(
    n: int, sigma_min: float, sigma_max: float, rho: float = 1.0, device: Any = "cpu"
) -> Any:
    ramp = torch.linspace(1, 0, n, device=device) ** rho
    return _zero(
        torch.exp(ramp * (math.log(sigma_max) - math.log(sigma_min)) + math.log(sigma_min))
    )


def _package(name: str, **fixed: Any) -> Any:
    def function(n: int, sigma_min: float, sigma_max: float, device: Any = "cpu", **kw: Any) -> Any:
        from latent_upscale.schedules import get_sigmas

        inner = kw.get("inner_model")
        table = None if inner is None else inner.sigmas
        params = {k: v() for k, v in fixed.items()}
        extra = {}
        if name not in ("align_your_steps", "simple", "ddim_uniform", "uniform"):
            extra = {"sigma_min": sigma_min, "sigma_max": sigma_max}
        sdxl = bool(getattr(shared.sd_model, "is_sdxl", False))
        return get_sigmas(name, n, table, sdxl=sdxl, **extra, **params).to(device)

    return function


def _forge_only(*_args: Any, **_kwargs: Any) -> Any:
    raise NotImplementedError("Forge-only schedule: not reproduced by the stub")


_FUNCTIONS = {
    "automatic": (None, -1, False),
    "uniform": (uniform, -1, True),
    "karras": (karras, 7.0, False),
    "exponential": (exponential, -1, False),
    "polyexponential": (polyexponential, 1.0, False),
    "sgm_uniform": (_package("sgm_uniform"), -1, True),
    "kl_optimal": (_package("kl_optimal"), -1, False),
    "align_your_steps": (_package("align_your_steps"), -1, False),
    "simple": (_package("simple"), -1, True),
    "normal": (_package("normal"), -1, True),
    "ddim": (_package("ddim_uniform"), -1, True),
    "beta": (
        _package(
            "beta",
            alpha=lambda: shared.opts.beta_dist_alpha,
            beta=lambda: shared.opts.beta_dist_beta,
        ),
        -1,
        True,
    ),
}

schedulers = []
for _name, _label in HOST.schedulers:
    _function, _rho, _inner = _FUNCTIONS.get(_name, (_forge_only, -1, False))
    _aliases = ["SGMUniform"] if _name == "sgm_uniform" else None
    schedulers.append(Scheduler(_name, _label, _function, _rho, _inner, _aliases))

schedulers_map = {**{s.name: s for s in schedulers}, **{s.label: s for s in schedulers}}
