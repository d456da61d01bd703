"""upscale() against the reference outputs in tests/reference/upscale.json.

Every reference case whose call is one of our methods must match within 1e-5 in float32
(and within 1e-9 with float64 input where the case has ``output_f64``). Cases we deliberately
don't reproduce are checked for the reason instead (see the tests at the end).
"""

from __future__ import annotations

import re

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
# reference methods we do not reproduce, and the test that checks why
EXPLAINED = {
    **dict.fromkeys(NOT_OFFERED, "test_align_corners_is_not_offered"),
    "feynlee-latent-upscale:linear": "test_extension_choices_that_always_failed_are_rejected",
    "feynlee-latent-upscale:trilinear": "test_extension_choices_that_always_failed_are_rejected",
    "comfyui:lanczos": "test_comfyui_lanczos_clipping_is_not_reproduced",
}


CASES = golden.load(FILE)["cases"]
MATCHED = golden.require([c for c in CASES if c["method"] in OURS], f"{FILE}: our methods")


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


def test_every_method_is_run_or_explained():
    methods = {c["method"] for c in golden.load(FILE)["cases"]}
    assert not set(OURS) & set(EXPLAINED)
    assert methods == set(OURS) | set(EXPLAINED)  # neither list may name a missing method
    for test in EXPLAINED.values():
        assert callable(globals()[test])


def test_every_method_of_ours_has_golden_cases():
    golden.load(FILE)
    covered = {OURS[c["method"]] for c in MATCHED}
    assert covered == set(METHODS)


@pytest.mark.parametrize("case", MATCHED, ids=[c["id"] for c in MATCHED])
def test_matches_reference(case):
    assert case["error"] is None
    x = _input(case["input"])
    if "crop=center" in case["method"]:
        # ComfyUI crops first, then resizes; upscale() only resizes, so crop the same way here
        rows, cols = _center_crop(x.shape[2], x.shape[3], case["size_hw"])
        x = x[:, :, rows : x.shape[2] - rows, cols : x.shape[3] - cols]
    method = OURS[case["method"]]
    out = upscale(x, tuple(case["size_hw"]), method)
    expected = torch.tensor(golden.values(case["output"]), dtype=torch.float32)
    assert list(out.shape) == case["shape"]
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.flatten(), expected, atol=ATOL_F32, rtol=0)
    if case.get("output_f64") is not None:
        out64 = upscale(x.double(), tuple(case["size_hw"]), method)
        expected64 = torch.tensor(golden.values(case["output_f64"]), dtype=torch.float64)
        assert out64.dtype == torch.float64
        torch.testing.assert_close(out64.flatten(), expected64, atol=ATOL_F64, rtol=0)


def test_center_crop_cases_include_a_real_crop():
    """At least one crop=center case crops (8x8 -> 11x13 drops a row at top and bottom)."""
    cropped = [
        c
        for c in golden.cases(FILE, method="comfyui:bislerp+crop=center")
        if any(_center_crop(*_input(c["input"]).shape[2:], c["size_hw"]))
    ]
    assert golden.require(cropped, "crop=center cases that crop")


def _align_corners_bilinear(x: torch.Tensor, size_hw: list[int]) -> torch.Tensor:
    """Bilinear with align_corners=True from its definition (doc section 3.1), in float64:
    output index i samples the input at i * (in - 1) / (out - 1), so the corners stay put."""

    def weights(n_in: int, n_out: int) -> torch.Tensor:
        w = torch.zeros(n_out, n_in, dtype=torch.float64)
        for i in range(n_out):
            pos = i * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
            lo = min(int(pos), n_in - 1)
            hi = min(lo + 1, n_in - 1)
            w[i, lo] += 1 - (pos - lo)
            w[i, hi] += pos - lo
        return w

    rows = weights(x.shape[2], size_hw[0])
    cols = weights(x.shape[3], size_hw[1])
    return torch.einsum("hi,bcij,wj->bchw", rows, x.double(), cols)


@pytest.mark.parametrize("name", NOT_OFFERED)
def test_align_corners_cases_keep_the_corners(name):
    """align_corners=True (doc section 3.1) maps the input's corner samples onto the output's."""
    for case in golden.cases(FILE, method=name):
        x = _input(case["input"])
        ref = torch.tensor(golden.values(case["output"])).reshape(case["shape"])
        for r, c in ((0, 0), (0, -1), (-1, 0), (-1, -1)):
            torch.testing.assert_close(ref[:, :, r, c], x[:, :, r, c], atol=ATOL_F32, rtol=0)


def test_align_corners_bilinear_follows_its_definition():
    for case in golden.cases(FILE, method="torch:bilinear+align_corners"):
        ours = _align_corners_bilinear(_input(case["input"], torch.float64), case["size_hw"])
        expected = torch.tensor(golden.values(case["output"]), dtype=torch.float64)
        torch.testing.assert_close(ours.flatten(), expected, atol=ATOL_F32, rtol=0)


@pytest.mark.parametrize("name", NOT_OFFERED)
def test_align_corners_is_not_offered(name):
    """align_corners=True is in the reference data for comparison only: no method of ours gives
    its output when enlarging, and the torch mode names with it are rejected.

    (Shrinking 5x7 to 3x4 hits the grid points i * (in - 1) / (out - 1) = 0, 2, 4 (, 6) exactly,
    the very samples nearest-exact picks, so the downscale cases cannot tell them apart.)
    """
    upscales = [
        c
        for c in golden.cases(FILE, method=name)
        if all(o > i for o, i in zip(c["size_hw"], _input(c["input"]).shape[2:], strict=True))
    ]
    for case in golden.require(upscales, f"{name} enlarging cases"):
        x = _input(case["input"])
        ref = torch.tensor(golden.values(case["output"]))
        for method in METHODS:
            out = upscale(x, tuple(case["size_hw"]), method).flatten()
            assert (out - ref).abs().max() > 1e-3, (case["id"], method)
    with pytest.raises(ValueError, match="valid methods"):
        upscale(torch.zeros(1, 4, 2, 2), (3, 3), name.split(":")[1])
    assert not any(re.search("align", m) for m in METHODS)


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


def test_in_repository_data_holds_every_method_with_provenance():
    data = golden.in_repo(FILE)
    methods = {c["method"] for c in data["cases"]}
    listed = {g["method"]: g for g in data["groups"]}
    assert set(listed) == methods
    assert len(methods) == 34  # schedules-and-methods.md section 5
    for method, group in listed.items():
        assert group["cases"] == sum(1 for c in data["cases"] if c["method"] == method)
        assert re.search(r"@[0-9a-f]{7}|v1\.10|\d+\.\d+\.\d+", group["provenance"]), method
    assert set(data["meta"]["inputs"]) == {c["input"] for c in data["cases"]}


def test_in_repository_data_equals_the_external_set():
    """Where an external golden set is present, the extract must hold its numbers unchanged."""
    data = golden.in_repo(FILE)
    full = golden.external(FILE)
    if full is None:  # a plain clone: the tests run on exactly the extract
        assert golden.load(FILE)["cases"] == data["cases"]
        return
    assert full["meta"]["inputs"] == data["meta"]["inputs"]
    by_id = {c["id"]: c for c in full["cases"]}
    shared = [c for c in data["cases"] if c["id"] in by_id]
    if golden.external_sha256(FILE) == data["extracted_from"]["sha256"]:
        assert len(shared) == len(data["cases"])
    for case in shared:
        assert case == by_id[case["id"]], case["id"]
