"""Stub of ``modules.devices``."""

from __future__ import annotations

import torch
from modules import shared

cpu = torch.device("cpu")
device = shared.device
dtype = torch.float32
dtype_vae = torch.float32


def torch_gc() -> None:
    """Nothing to free on the stub."""
