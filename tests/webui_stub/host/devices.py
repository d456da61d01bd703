"""Stub of ``modules.devices``."""

from __future__ import annotations

import torch

cpu = torch.device("cpu")
device = cpu
dtype = torch.float32
dtype_vae = torch.float32


def torch_gc() -> None:
    """Nothing to free on the stub."""
