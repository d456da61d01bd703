"""Stub of ``modules.sd_samplers_common``: the img2img step rule and the sampler base."""

from __future__ import annotations

from typing import Any, NamedTuple

from modules import shared


class SamplerData(NamedTuple):
    name: str
    constructor: Any
    aliases: list[str]
    options: dict[str, Any]


def setup_img2img_steps(p: Any, steps: int | None = None) -> tuple[int, int]:
    """(schedule length, t_enc) the way every host computes them (hosts notes, section 3.3)."""
    if shared.opts.img2img_fix_steps or steps is not None:
        requested = steps or p.steps
        steps = int(requested / min(p.denoising_strength, 0.999)) if p.denoising_strength > 0 else 0
        t_enc = requested - 1
    else:
        steps = p.steps
        t_enc = int(min(p.denoising_strength, 0.999) * steps)
    return steps, t_enc


class Sampler:
    """Base of the stub's samplers: records every run (sigmas or timesteps) for the tests."""

    def __init__(self, funcname: str) -> None:
        self.funcname = funcname
        self.config: SamplerData | None = None
        self.runs: list[dict[str, Any]] = []

    def _loop(self, p: Any, x: Any, n: int, step: Any) -> Any:
        """The sampling loop: honours interrupts and the test's per-step hook."""
        for i in range(n):
            if shared.state.on_step is not None:
                shared.state.on_step(p, i)
            if shared.state.interrupted:
                break
            x = step(x, i)
        return x
