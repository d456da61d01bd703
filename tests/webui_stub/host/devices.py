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


def autocast(disable: bool = False) -> object:
    """The hosts run ``p.init`` and sampling under autocast (half precision on GPUs).

    The stub always enables it, in the device's low-precision type (bfloat16 on the CPU, float16
    elsewhere), so the tests see what a half-precision host does to the extension's math.
    """
    if disable:
        import contextlib

        return contextlib.nullcontext()
    low = torch.bfloat16 if device.type == "cpu" else torch.float16
    return torch.autocast(device_type=device.type, dtype=low)
