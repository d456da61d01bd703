"""upscale() against the reference outputs in ../shared/golden/upscale.json.

Every golden case whose reference call is one of our methods must match within 1e-5 in float32
(and within 1e-9 with float64 input where the file has ``output_f64``). Cases we deliberately
don't reproduce are checked for the reason instead (see the tests at the end).
"""

from __future__ import annotations

import json

import pytest
import torch

from latent_upscale import METHODS, upscale
from tests import golden

FILE = "upscale.json"
ATOL_F32 = 1e-5
ATOL_F64 = 1e-9

# golden method -> our method (A1111 hires names and resize mode 3 are plain torch calls).
OURS = {
    "torch:nearest": "nearest",
    "torch:nearest-exact": "nearest-exact",
    "torch:bilinear": "bilinear",
    "torch:bicubic": "bicubic",
    "torch:area": "area",
    "torch:bilinear+antialias": "bilinear-antialiased",
    "torch:bicubic+antialias": "bicubic-antialiased",
    "torch:lanczos+antialias": "lanczos",
    "a1111:Latent": "bilinear",
    "a1111:Latent (antialiased)": "bilinear-antialiased",
    "a1111:Latent (bicubic)": "bicubic",
    "a1111:Latent (bicubic antialiased)": "bicubic-antialiased",
    "a1111:Latent (nearest)": "nearest",
    "a1111:Latent (nearest-exact)": "nearest-exact",
    "a1111:img2img resize_mode=3 (Just resize (latent upscale))": "bilinear",
    "feynlee-latent-upscale:nearest": "nearest",
    "feynlee-latent-upscale:nearest-exact": "nearest-exact",
    "feynlee-latent-upscale:bilinear": "bilinear",
    "feynlee-latent-upscale:bilinear-antialiased": "bilinear-antialiased",
    "feynlee-latent-upscale:bicubic": "bicubic",
    "feynlee-latent-upscale:bicubic-antialiased": "bicubic-antialiased",
    "feynlee-latent-upscale:area": "area",
    "comfyui:nearest-exact": "nearest-exact",
    "comfyui:bilinear": "bilinear",
    "comfyui:area": "area",
    "comfyui:bicubic": "bicubic",
    "comfyui:bislerp": "bislerp",
    "comfyui:bilinear+crop=center": "bilinear",
    "comfyui:bislerp+crop=center": "bislerp",
}
NOT_OFFERED = ("torch:bilinear+align_corners", "torch:bicubic+align_corners")


def _all_cases() -> list[dict]:
    """The golden cases, or none when the file is absent (then test_file_present skips)."""
    path = golden.GOLDEN_DIR / FILE
    return json.loads(path.read_text())["cases"] if path.is_file() else []


CASES = _all_cases()
MATCHED = [c for c in CASES if c["method"] in OURS]


def _input(name: str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """One of the file's input tensors."""
    spec = golden.load(FILE)["meta"]["inputs"][name]
    return torch.tensor(golden.values(spec["values"]), dtype=dtype).reshape(spec["shape"])


def _center_crop(h: int, w: int, size_hw: list[int]) -> tuple[int, int]:
    """Rows and columns ComfyUI's crop='center' removes from each side (comfy common_upscale)."""
    old_aspect, new_aspect = w / h, size_hw[1] / size_hw[0]
    if old_aspect > new_aspect:
        return 0, round((w - w * new_aspect / old_aspect) / 2)
    if old_aspect < new_aspect:
        return round((h - h * old_aspect / new_aspect) / 2), 0
    return 0, 0


def test_file_present():
    data = golden.load(FILE)
    assert data["cases"], "no cases"
    assert {c["method"] for c in data["cases"]} >= set(OURS)


def test_every_method_of_ours_has_golden_cases():
    golden.load(FILE)
    covered = {OURS[c["method"]] for c in MATCHED}
    assert covered == set(METHODS)


@pytest.mark.parametrize("case", MATCHED, ids=[c["id"] for c in MATCHED])
def test_matches_reference(case):
    assert case["error"] is None
    x = _input(case["input"])
    if "crop=center" in case["method"]:
        rows, cols = _center_crop(x.shape[2], x.shape[3], case["size_hw"])
        if rows or cols:
            pytest.skip("crop='center' with a real crop: upscale() resizes, it never crops")
    method = OURS[case["method"]]
    out = upscale(x, tuple(case["size_hw"]), method)
    expected = torch.tensor(golden.values(case["output"]), dtype=torch.float32)
    assert list(out.shape) == case["shape"]
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.flatten(), expected, atol=ATOL_F32, rtol=0)
    if case.get("output_f64") is not None:
        out64 = upscale(_input(case["input"], torch.float64), tuple(case["size_hw"]), method)
        expected64 = torch.tensor(golden.values(case["output_f64"]), dtype=torch.float64)
        assert out64.dtype == torch.float64
        torch.testing.assert_close(out64.flatten(), expected64, atol=ATOL_F64, rtol=0)


@pytest.mark.parametrize("name", NOT_OFFERED)
def test_align_corners_is_not_offered(name):
    """align_corners=True exists in the golden file for reference only: no method uses it."""
    assert golden.cases(FILE, method=name)
    assert all(m.mode is None or "align" not in m.name for m in METHODS.values())
    with pytest.raises(ValueError, match="valid methods"):
        upscale(torch.zeros(1, 4, 2, 2), (3, 3), name.split(":")[1])


@pytest.mark.parametrize("choice", ["linear", "trilinear"])
def test_extension_choices_that_always_failed_are_rejected(choice):
    """The original extension offered linear/trilinear, which torch rejects for 4-D latents."""
    cases = golden.cases(FILE, method=f"feynlee-latent-upscale:{choice}")
    assert cases
    assert all(c["error"] and "NotImplementedError" in c["error"] for c in cases)
    with pytest.raises(ValueError, match="valid methods: nearest, "):
        upscale(torch.zeros(1, 4, 2, 2), (3, 3), choice)


def test_comfyui_lanczos_clipping_is_not_reproduced():
    """ComfyUI's lanczos goes through 8-bit RGBA images: clipped to [0, 1] and quantised.

    Our lanczos is the float filter (torch:lanczos+antialias above); where the input leaves
    [0, 1] the two must differ, and ComfyUI's values must sit on the 1/255 grid.
    """
    cases = golden.cases(FILE, method="comfyui:lanczos")
    assert cases
    for case in cases:
        ref = torch.tensor(golden.values(case["output"]), dtype=torch.float64)
        assert ref.min() >= 0
        assert ref.max() <= 1
        assert torch.allclose(ref * 255, (ref * 255).round(), atol=1e-4)
        x = _input(case["input"])
        ours = upscale(x, tuple(case["size_hw"]), "lanczos").flatten().double()
        if x.min() < 0 or x.max() > 1:
            assert ours.min() < 0 or ours.max() > 1
            assert (ours - ref).abs().max() > 0.1
