"""upscale() where the WebUI differs from a plain call: torch.autocast, kernels that fail
(out of memory, missing half kernels), non-finite values, and bislerp's zero and short vectors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import settings

from latent_upscale import METHODS, interpolation, upscale

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
SETTINGS = settings(max_examples=40, deadline=None)


def randn(shape, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Seeded N(0, 1) CPU tensor."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


# --- torch.autocast ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("size", [(48, 48), (20, 27)], ids=str)
def test_autocast_changes_nothing(method, dtype, size):
    """The WebUI calls us inside torch.autocast (CPU: bfloat16): same bits, same dtype."""
    x = (randn((1, 4, 32, 32), seed=1) * 3).to(dtype)
    outside = upscale(x, size, method)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = upscale(x, size, method)
    assert inside.dtype == dtype
    assert torch.equal(inside, outside)
    with torch.autocast("cpu", dtype=torch.float16):
        assert torch.equal(upscale(x, size, method), outside)


def test_autocast_is_restored_after_the_call():
    a = torch.ones(2, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        upscale(randn((1, 4, 4, 4)), (6, 6), "lanczos")
        assert (a @ a).dtype == torch.bfloat16
    assert (a @ a).dtype == torch.float32


@pytest.mark.filterwarnings("ignore:torch.is_autocast_cpu_enabled:DeprecationWarning")
def test_autocast_off_on_torch_before_2_4(monkeypatch):
    """Before torch 2.4, is_autocast_enabled took no device (CUDA only) and CPU had its own."""

    class OldTorch:
        def __getattr__(self, name):
            return getattr(torch, name)

        @staticmethod
        def is_autocast_enabled():
            return torch.is_autocast_enabled("cuda")

    monkeypatch.setattr(interpolation, "torch", OldTorch())
    x = randn((1, 4, 32, 32), seed=3) * 3
    outside = upscale(x, (48, 48), "lanczos")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(upscale(x, (48, 48), "lanczos"), outside)


@CUDA
@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_cuda_autocast_changes_nothing(method, dtype):
    x = (randn((1, 4, 32, 32), seed=2) * 3).to("cuda", dtype)
    outside = upscale(x, (48, 40), method)
    with torch.autocast("cuda", dtype=torch.float16):
        inside = upscale(x, (48, 40), method)
    assert inside.dtype == dtype
    assert torch.equal(inside, outside)
