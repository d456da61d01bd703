"""Stub of ``modules.rng``: ``ImageRNG``, the per-image noise of a batch.

Each batch item has its own CPU ``torch.Generator`` seeded with its seed, so an image's noise
depends on its seed only (not on its place in the batch), and ``next()`` called again goes on
drawing from the same generators (what ancestral samplers do). The first draw mixes in the
subseed's noise (a spherical blend by ``subseed_strength``). Not modelled: the host's
``seed_resize_from_*`` (kept as attributes; the noise is always at ``shape``), the "NV" and GPU
noise sources and ``eta_noise_seed_delta``.
"""

from __future__ import annotations

from typing import Any

import torch
from modules import shared


def _spherical_blend(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """From ``a`` (t = 0) to ``b`` (t = 1) along the great circle between their directions."""
    ua, ub = a.flatten() / a.norm(), b.flatten() / b.norm()
    cos = torch.clamp((ua * ub).sum(), -1.0, 1.0)
    if cos > 0.9995:  # nearly parallel: a straight blend is as good
        return a * (1 - t) + b * t
    angle = torch.acos(cos)
    return (torch.sin((1 - t) * angle) * a + torch.sin(t * angle) * b) / torch.sin(angle)


class ImageRNG:
    def __init__(
        self,
        shape: Any,
        seeds: list[int],
        subseeds: list[int] | None = None,
        subseed_strength: float = 0.0,
        seed_resize_from_h: int = 0,
        seed_resize_from_w: int = 0,
    ) -> None:
        self.shape = tuple(int(v) for v in shape)
        self.seeds = list(seeds)
        self.subseeds = subseeds
        self.subseed_strength = subseed_strength
        self.seed_resize_from_h = seed_resize_from_h
        self.seed_resize_from_w = seed_resize_from_w
        self.generators = [torch.Generator().manual_seed(int(seed)) for seed in self.seeds]
        self.draws = 0  # how many times next() ran

    def next(self) -> torch.Tensor:
        """[len(seeds), *shape] noise on ``shared.device``, one generator per batch item."""
        first = self.draws == 0
        self.draws += 1
        items = []
        for i, generator in enumerate(self.generators):
            noise = torch.randn(self.shape, generator=generator)
            if first and self.subseeds is not None and self.subseed_strength != 0:
                subseed = int(self.subseeds[i]) if i < len(self.subseeds) else 0
                other = torch.randn(self.shape, generator=torch.Generator().manual_seed(subseed))
                noise = _spherical_blend(noise, other, float(self.subseed_strength))
            items.append(noise)
        return torch.stack(items).to(shared.device)
