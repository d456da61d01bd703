"""Tests for latent_upscale.command.preview: RGB preview, synthetic latent, files, metrics."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from latent_upscale import upscale
from latent_upscale.command import preview as pv

SETTINGS = settings(max_examples=25, deadline=None)


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _ideal_upsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Band-limited (sinc) upsampling by zero-padding the centred spectrum; odd sizes only."""
    h, w = x.shape[-2:]
    assert h % 2 == 1
    assert w % 2 == 1
    spectrum = torch.fft.fftshift(torch.fft.fft2(x.double()), dim=(-2, -1))
    big = torch.zeros(*x.shape[:-2], h * factor, w * factor, dtype=spectrum.dtype)
    top, left = (h * factor) // 2 - h // 2, (w * factor) // 2 - w // 2
    big[..., top : top + h, left : left + w] = spectrum
    out = torch.fft.ifft2(torch.fft.ifftshift(big, dim=(-2, -1))).real * factor**2
    return out.float()


# --- RGB preview -------------------------------------------------------------------------------


@SETTINGS
@given(
    batch=st.integers(1, 3),
    height=st.integers(1, 12),
    width=st.integers(1, 12),
    scale=st.floats(0.1, 20.0),
    model=st.sampled_from(pv.MODELS),
    seed=st.integers(0, 2**16),
)
def test_rgb_preview_shape_and_range(batch, height, width, scale, model, seed):
    latent = _randn(batch, 4, height, width, seed=seed) * scale
    rgb = pv.latent_to_rgb(latent, model)
    assert rgb.shape == (batch, 3, height, width)
    assert rgb.dtype == torch.float32
    assert float(rgb.min()) >= 0.0
    assert float(rgb.max()) <= 1.0


@pytest.mark.parametrize("model", pv.MODELS)
def test_rgb_preview_of_zero_latent_is_mid_gray(model):
    rgb = pv.latent_to_rgb(torch.zeros(1, 4, 2, 3), model)
    torch.testing.assert_close(rgb, torch.full((1, 3, 2, 3), 0.5))


@pytest.mark.parametrize("model", pv.MODELS)
@pytest.mark.parametrize("colour", [(0.2, 0.5, 0.8), (0.9, 0.1, 0.3), (0.5, 0.5, 0.5)])
def test_rgb_preview_inverts_the_colour_solver(model, colour):
    vector = pv._rgb_to_latent_vector(colour, model).float()
    rgb = pv.latent_to_rgb(vector.view(1, 4, 1, 1), model).flatten()
    torch.testing.assert_close(rgb, torch.tensor(colour), atol=1e-5, rtol=0)


def test_rgb_preview_is_linear_before_clamping():
    a, b = _randn(1, 4, 3, 3, seed=1) * 0.1, _randn(1, 4, 3, 3, seed=2) * 0.1
    mid = pv.latent_to_rgb(a + b) - 0.5
    torch.testing.assert_close(mid, (pv.latent_to_rgb(a) - 0.5) + (pv.latent_to_rgb(b) - 0.5))


def test_rgb_preview_rejects_wrong_channels_and_models():
    with pytest.raises(ValueError, match="4, height, width"):
        pv.latent_to_rgb(torch.zeros(1, 16, 4, 4))
    with pytest.raises(ValueError, match="sd1, sdxl"):
        pv.latent_to_rgb(torch.zeros(1, 4, 4, 4), "flux")


# --- synthetic latent --------------------------------------------------------------------------


def test_synthetic_latent_is_deterministic_and_seeded():
    a, b = pv.synthetic_latent(), pv.synthetic_latent()
    assert a.shape == (1, 4, 32, 32)
    assert a.dtype == torch.float32
    assert torch.equal(a, b)
    assert not torch.equal(a, pv.synthetic_latent(seed=1))
    assert bool(torch.isfinite(a).all())


def test_synthetic_latent_has_structure_at_several_scales():
    latent = pv.synthetic_latent(48, 48).double()
    centred = latent - latent.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(centred).abs().square().sum(dim=(0, 1))
    freq = torch.fft.fftfreq(48, dtype=torch.float64).abs()
    radius = torch.maximum(freq.view(48, 1), freq.view(1, 48))  # cycles per pixel (max-norm)
    total = float(power.sum())
    for lo, hi in ((0.0, 0.1), (0.1, 0.25), (0.25, 0.5)):
        band = float(power[(radius > lo) & (radius <= hi)].sum())
        assert band / total > 0.02, (lo, hi, band / total)


def test_synthetic_latent_rejects_tiny_sizes():
    with pytest.raises(ValueError, match=">= 4"):
        pv.synthetic_latent(2, 8)


# --- loading -----------------------------------------------------------------------------------


def test_load_comfyui_latent_current_format(tmp_path):
    safetensors = pytest.importorskip("safetensors.torch")
    latent = _randn(2, 4, 6, 5)
    path = tmp_path / "image.latent"
    safetensors.save_file(
        {"latent_tensor": latent, "latent_format_version_0": torch.tensor([])}, str(path)
    )
    torch.testing.assert_close(pv.load_latent(path), latent)


def test_load_comfyui_latent_old_format_is_unscaled(tmp_path):
    safetensors = pytest.importorskip("safetensors.torch")
    latent = _randn(1, 4, 6, 5)
    path = tmp_path / "old.latent"
    safetensors.save_file({"latent_tensor": latent * 0.18215}, str(path))
    torch.testing.assert_close(pv.load_latent(path), latent, rtol=1e-5, atol=1e-6)


def test_load_single_tensor_safetensors_any_key(tmp_path):
    safetensors = pytest.importorskip("safetensors.torch")
    latent = _randn(1, 16, 4, 4).half()
    path = tmp_path / "x.safetensors"
    safetensors.save_file({"whatever": latent}, str(path))
    loaded = pv.load_latent(path)
    assert loaded.dtype == torch.float32
    torch.testing.assert_close(loaded, latent.float())


def test_load_ambiguous_safetensors_lists_keys(tmp_path):
    safetensors = pytest.importorskip("safetensors.torch")
    path = tmp_path / "two.safetensors"
    safetensors.save_file({"a": torch.zeros(1, 4, 2, 2), "b": torch.zeros(1, 4, 3, 3)}, str(path))
    with pytest.raises(pv.LatentFileError, match="a, b"):
        pv.load_latent(path)


@pytest.mark.parametrize("wrap", [lambda t: t, lambda t: {"samples": t, "batch_index": [0]}])
def test_load_torch_files(tmp_path, wrap):
    latent = _randn(1, 4, 7, 3)
    path = tmp_path / "latent.pt"
    torch.save(wrap(latent), path)
    torch.testing.assert_close(pv.load_latent(path), latent)


def test_load_refuses_files_over_max_bytes_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.pt"
    torch.save(torch.zeros(1, 4, 16, 16), path)
    size = path.stat().st_size
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("the file was read"))
    with pytest.raises(pv.LatentFileError, match=f"{size - 1:,} bytes") as info:
        pv.load_latent(path, max_bytes=size - 1)
    assert str(path) in str(info.value)


def test_unsupported_suffix_error_lists_every_readable_suffix(tmp_path):
    path = tmp_path / "latent.npy"
    path.write_bytes(b"x")
    with pytest.raises(pv.LatentFileError) as info:
        pv.load_latent(path)
    for suffix in (".safetensors", ".latent", ".pt", ".pth"):
        assert suffix in str(info.value)
        assert suffix in pv.LATENT_FILE_SUFFIXES


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        pv.load_latent(tmp_path / "missing.pt")
    flat = tmp_path / "flat.pt"
    torch.save(torch.zeros(4, 8, 8), flat)
    with pytest.raises(pv.LatentFileError, match="4-D"):
        pv.load_latent(flat)
    nan = tmp_path / "nan.pt"
    torch.save(torch.full((1, 4, 2, 2), math.nan), nan)
    with pytest.raises(pv.LatentFileError, match="NaN"):
        pv.load_latent(nan)
    ints = tmp_path / "ints.pt"
    torch.save(torch.zeros(1, 4, 2, 2, dtype=torch.int64), ints)
    with pytest.raises(pv.LatentFileError, match="floating"):
        pv.load_latent(ints)
    text = tmp_path / "latent.png"
    text.write_bytes(b"not a latent")
    with pytest.raises(pv.LatentFileError, match=r"\.safetensors"):
        pv.load_latent(text)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 5)
    with pytest.raises(pv.LatentFileError, match="safetensors"):
        pv.load_latent(garbage)


# --- metrics -----------------------------------------------------------------------------------


def test_metrics_of_identity():
    latent = pv.synthetic_latent()
    metrics = pv.measure(latent, latent)
    assert metrics.detail == pytest.approx(1.0)
    assert metrics.new_high == pytest.approx(0.0, abs=1e-12)
    assert metrics.overshoot == 0.0
    assert metrics.norm_ratio == pytest.approx(1.0)
    assert metrics.norm_error == pytest.approx(0.0, abs=1e-12)
    assert metrics.roundtrip == pytest.approx(0.0, abs=1e-12)


@SETTINGS
@given(seed=st.integers(0, 2**16), size=st.sampled_from([5, 7, 9]), factor=st.sampled_from([2, 3]))
def test_ideal_band_limited_upsample_keeps_detail_and_adds_nothing(seed, size, factor):
    latent = _randn(1, 4, size, size, seed=seed)
    out = _ideal_upsample(latent, factor)
    assert pv.detail_kept(out, latent) == pytest.approx(1.0, abs=1e-4)
    assert pv.new_high_frequency(out, (size, size)) == pytest.approx(0.0, abs=1e-8)


def test_nearest_adds_energy_above_the_input_band():
    latent = _randn(1, 4, 9, 9)
    out = upscale(latent, (27, 27), "nearest-exact")
    assert pv.new_high_frequency(out, (9, 9)) > 0.05


@SETTINGS
@given(seed=st.integers(0, 2**16), factor=st.sampled_from([2, 3, 4]), h=st.integers(2, 9))
def test_nearest_exact_integer_upscale_round_trips_through_area(seed, factor, h):
    latent = _randn(1, 4, h, h + 1, seed=seed)
    out = upscale(latent, (h * factor, (h + 1) * factor), "nearest-exact")
    assert pv.roundtrip_error(out, latent) < 1e-6


@SETTINGS
@given(
    seed=st.integers(0, 2**16),
    out_h=st.integers(1, 24),
    out_w=st.integers(1, 24),
    method=st.sampled_from(["bilinear", "area", "nearest", "nearest-exact"]),
)
def test_convex_methods_never_overshoot(seed, out_h, out_w, method):
    latent = _randn(1, 4, 6, 7, seed=seed) * 3
    assert pv.overshoot(upscale(latent, (out_h, out_w), method), latent) == 0.0


def test_bicubic_overshoots_a_step_edge():
    step = torch.zeros(1, 4, 8, 8)
    step[..., 4:] = 1.0
    value = pv.overshoot(upscale(step, (16, 16), "bicubic"), step)
    assert value > 0.05


def test_overshoot_is_relative_to_each_channel_range():
    ref = torch.zeros(1, 2, 2, 2)
    ref[:, 0, 0, 0], ref[:, 1, 0, 0] = 10.0, 1.0  # ranges 10 and 1
    out = ref.clone()
    out[:, 1, 1, 1] = -0.25  # 25 % below channel 1's range
    assert pv.overshoot(out, ref) == pytest.approx(0.25)


def test_bislerp_preserves_norms_better_than_bilinear():
    latent = _randn(1, 4, 16, 16, seed=3)
    errors = {
        m: pv.norm_error(upscale(latent, (40, 40), m), latent) for m in ("bislerp", "bilinear")
    }
    assert errors["bislerp"] < 0.5 * errors["bilinear"]
    assert pv.norm_ratio(upscale(latent, (40, 40), "bilinear"), latent) < 0.97


def test_norm_ratio_scales():
    latent = _randn(1, 4, 5, 5)
    assert pv.norm_ratio(latent * 2, latent) == pytest.approx(2.0)


def test_measure_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same B and C"):
        pv.measure(torch.zeros(1, 4, 4, 4), torch.zeros(1, 16, 4, 4))


def test_metric_help_names_every_metric():
    assert set(pv.METRIC_HELP) == set(pv.Metrics.__dataclass_fields__)
