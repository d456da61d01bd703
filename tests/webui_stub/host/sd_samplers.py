"""Stub of ``modules.sd_samplers``: the sampler list and ``create_sampler``."""

from __future__ import annotations

from typing import Any

import modules
from modules import sd_samplers_kdiffusion, sd_samplers_timesteps
from modules.sd_samplers_common import SamplerData

HOST = modules.HOST


def _k(name: str, funcname: str, **options: Any) -> SamplerData:
    def constructor(model: Any) -> Any:
        return sd_samplers_kdiffusion.KDiffusionSampler(funcname, model, options)

    return SamplerData(name, constructor, [], options)


def _t(name: str, funcname: str) -> SamplerData:
    def constructor(model: Any) -> Any:
        return sd_samplers_timesteps.CompVisSampler(funcname, model)

    return SamplerData(name, constructor, [], {})


_karras = {} if HOST.karras_sampler_names else {"scheduler": "karras"}
all_samplers = [
    _k("Euler", "sample_euler"),
    _k("Euler a", "sample_euler_ancestral"),
    _k("DPM++ 2M", "sample_dpmpp_2m", **_karras),
    _k("DPM2", "sample_dpm_2", discard_next_to_last_sigma=True, **_karras),
    _t("DDIM", "ddim"),
    _t("PLMS", "plms"),
    _t("UniPC", "unipc"),
]
if HOST.karras_sampler_names:
    all_samplers.append(_k("DPM++ 2M Karras", "sample_dpmpp_2m", scheduler="karras"))
if HOST.ddim_cfgpp:
    all_samplers.append(_t("DDIM CFG++", "ddim_cfgpp"))
all_samplers_map = {s.name: s for s in all_samplers}


def create_sampler(name: str, model: Any) -> Any:
    config = all_samplers_map.get(name)
    if config is None:
        raise ValueError(f"implementation of sampler {name!r} not found")
    sampler = config.constructor(model)
    sampler.config = config
    return sampler


def fix_p_invalid_sampler_and_scheduler(p: Any) -> None:
    """1.10+: old combined names; nothing to fix for the stub's names."""
