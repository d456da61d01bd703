"""Our schedules against the reference outputs in ``tests/reference/sigmas.json``.

Every (implementation, schedule) group of the data is either reproduced here (``RUNNERS``) or
listed in ``NOT_IMPLEMENTED`` with the reason. Tolerance: 1e-5 relative, exact zeros.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from latent_upscale.schedules import drop_penultimate, get_sigmas
from latent_upscale.steps import img2img_sigmas, img2img_steps
from latent_upscale.tables import discrete_sigmas, sigma_to_t, t_to_sigma
from tests import golden

FILE = "sigmas.json"
RTOL = 1e-5


@functools.cache
def table(kind: str) -> Tensor:
    return discrete_sigmas(kind)


def a1111() -> Tensor:
    return table("a1111")


def comfy() -> Tensor:
    return table("comfyui")


# ComfyUI scheduler names whose semantics we keep under a different name
COMFY_NAMES = {"beta": "beta_comfyui", "kl_optimal": "kl_optimal_comfyui"}
# the original extension's names for the WebUI schedules it wraps
FEYNLEE_NAMES = {
    "simple": "simple",
    "normal": "uniform",  # model_wrap.get_sigmas(steps)
    "karras": "karras",
    "exponential": "exponential",
    "polyexponential": "polyexponential",
}


def _a1111(case: dict) -> Tensor:
    schedule, params = case["schedule"], dict(case["params"])
    params.pop("label", None)
    sampler = params.pop("sampler", "Euler")
    if schedule.startswith("automatic"):
        return get_sigmas("automatic", case["steps"], a1111(), sampler=sampler)
    if schedule == "align_your_steps[sdxl]":
        return get_sigmas("align_your_steps", case["steps"], a1111(), sdxl=params["is_sdxl"])
    if schedule == "karras[use_old_karras_scheduler_sigmas]":
        return get_sigmas("karras", case["steps"], a1111(), **params)
    return get_sigmas(schedule, case["steps"], a1111(), **params)


def _a1111_img2img(case: dict) -> Tensor:
    """The WebUI's img2img on our schedule: the schedule for ``total`` steps sliced from index
    ``total - t_enc - 1`` (the host's own rule, restated here)."""
    p = case["params"]
    full = p["img2img_fix_steps"]
    total, t_enc = img2img_steps(case["steps"], p["denoise"], full)
    assert (total, t_enc) == (case["total_steps"], case["t_enc"])
    kwargs = {"sampler": p["sampler"]} if case["schedule"] == "Automatic" else {}
    return get_sigmas(case["schedule"], total, a1111(), **kwargs)[total - t_enc - 1 :]


def _comfyui(case: dict) -> Tensor:
    name = COMFY_NAMES.get(case["schedule"], case["schedule"])
    return get_sigmas(name, case["steps"], comfy())


def _comfyui_node(case: dict) -> Tensor:
    schedule, p = case["schedule"], dict(case["params"])
    if schedule in ("KarrasScheduler", "ExponentialScheduler", "PolyexponentialScheduler"):
        return get_sigmas(schedule.removesuffix("Scheduler").lower(), case["steps"], **p)
    if schedule == "BetaSamplingScheduler":
        return get_sigmas("beta_comfyui", case["steps"], comfy(), **p)
    # AlignYourStepsScheduler[SD1] / [SDXL]
    model_type = p.pop("model_type", "SDXL" if schedule.endswith("[SDXL]") else "SD1")
    return get_sigmas("align_your_steps_comfyui", case["steps"], sdxl=model_type == "SDXL", **p)


def comfy_ksampler(
    name: str, steps: int, denoise: float, *, discard_penultimate: bool = False
) -> Tensor:
    """ComfyUI's KSampler rule, restated here from its source (not the package's code).

    ``KSampler.set_steps``: above denoise 0.9999 the whole schedule for ``steps``; otherwise a
    schedule for ``int(steps / denoise)`` of which only the last ``steps + 1`` values run.
    ``calculate_sigmas`` for dpm_2 / uni_pc-style samplers: one step more, then the
    next-to-last value removed.
    """
    total = steps if denoise > 0.9999 else int(steps / denoise)
    if discard_penultimate:
        longer = get_sigmas(name, total + 1, comfy())
        sigmas = torch.cat([longer[:-2], longer[-1:]])
    else:
        sigmas = get_sigmas(name, total, comfy())
    return sigmas if denoise > 0.9999 else sigmas[-(steps + 1) :]


def _ksampler_denoise(case: dict) -> Tensor:
    name = COMFY_NAMES.get(case["schedule"], case["schedule"])
    return comfy_ksampler(name, case["steps"], case["params"]["denoise"])


def _ksampler_discard(case: dict) -> Tensor:
    # "karras[dpm_2]": ComfyUI's KSampler with a discard-penultimate sampler
    name = case["schedule"].split("[")[0]
    return comfy_ksampler(name, case["steps"], 1.0, discard_penultimate=True)


def _kdiffusion(case: dict) -> Tensor:
    schedule, p = case["schedule"], dict(case["params"])
    if schedule == "DiscreteSchedule.get_sigmas":
        return get_sigmas("uniform", case["steps"], a1111())
    if schedule == "DiscreteSchedule.t_to_sigma":
        return t_to_sigma(p["t_in"], a1111())
    if schedule.startswith("DiscreteSchedule.sigma_to_t"):
        quantize = schedule.endswith("[quantize=True]")
        return sigma_to_t(torch.tensor(p["sigma_in"]), a1111(), quantize=quantize).float()
    return get_sigmas(schedule.removeprefix("get_sigmas_"), case["steps"], **p)


def _comfy_probe(case: dict) -> Tensor:
    p = case["params"]
    if case["schedule"] == "ModelSamplingDiscrete.sigma":
        return t_to_sigma(p["t_in"], comfy(), clamp=True)
    return sigma_to_t(torch.tensor(p["sigma_in"]), comfy(), quantize=True).float()


def _feynlee(case: dict) -> Tensor:
    return get_sigmas(FEYNLEE_NAMES[case["schedule"]], case["steps"], a1111())


def _feynlee_img2img(case: dict) -> Tensor:
    p = case["params"]
    name = FEYNLEE_NAMES[case["schedule"]]
    return img2img_sigmas(name, case["steps"], p["denoise"], p["img2img_fix_steps"], a1111())


def _by_schedule(fn: Callable[[dict], Tensor], schedules: set[str]) -> dict:
    return dict.fromkeys(schedules, fn)


RUNNERS: dict[str, Callable[[dict], Tensor] | dict[str, Callable[[dict], Tensor]]] = {
    "a1111": _a1111,
    "a1111_edge": lambda c: get_sigmas(c["schedule"], c["steps"], a1111()),
    "a1111_downcast_alphas_cumprod": lambda c: get_sigmas(
        c["schedule"], c["steps"], table("a1111_fp16")
    ),
    "a1111_img2img": _a1111_img2img,
    "comfyui": {
        **_by_schedule(
            _comfyui,
            {
                "simple",
                "sgm_uniform",
                "karras",
                "exponential",
                "ddim_uniform",
                "beta",
                "normal",
                "linear_quadratic",
                "kl_optimal",
            },
        ),
        "ModelSamplingDiscrete.sigma": _comfy_probe,
        "ModelSamplingDiscrete.timestep": _comfy_probe,
    },
    "comfyui_edge": _comfyui,
    "comfyui_ksampler_denoise": _ksampler_denoise,
    "comfyui_ksampler_discard": _ksampler_discard,
    "comfyui_node": _by_schedule(
        _comfyui_node,
        {
            "KarrasScheduler",
            "ExponentialScheduler",
            "PolyexponentialScheduler",
            "BetaSamplingScheduler",
            "AlignYourStepsScheduler[SD1]",
            "AlignYourStepsScheduler[SDXL]",
        },
    ),
    "comfyui_node_denoise": {"AlignYourStepsScheduler[SD1]": _comfyui_node},
    "k-diffusion": _by_schedule(
        _kdiffusion,
        {
            "get_sigmas_karras",
            "get_sigmas_exponential",
            "get_sigmas_polyexponential",
            "DiscreteSchedule.get_sigmas",
            "DiscreteSchedule.t_to_sigma",
            "DiscreteSchedule.sigma_to_t[quantize=False]",
            "DiscreteSchedule.sigma_to_t[quantize=True]",
        },
    ),
    "forge": {"align_your_steps_11": lambda c: get_sigmas("align_your_steps", c["steps"])},
    "feynlee-latent-upscale": _by_schedule(_feynlee, set(FEYNLEE_NAMES)),
    "feynlee-latent-upscale_edge": {"simple": _feynlee},
    "feynlee-latent-upscale_img2img": _by_schedule(_feynlee_img2img, set(FEYNLEE_NAMES)),
}

NOT_IMPLEMENTED = {
    ("comfyui", "ModelSamplingDiscrete.percent_to_sigma"): "ComfyUI node helper, not needed here",
    ("comfyui_node", "LaplaceScheduler"): "ComfyUI-only, no final zero; not offered",
    ("comfyui_node", "VPScheduler"): "continuous VP-SDE models only; not offered",
    ("comfyui_node", "SDTurboScheduler"): "SD-Turbo 1-10 step grid; not offered",
    ("comfyui_node", "AlignYourStepsScheduler[SVD]"): "video model table; not offered",
    ("comfyui_node", "GITSScheduler[1.20]"): "GITS tables not carried; not offered",
    ("comfyui_node", "OptimalStepsScheduler[FLUX]"): "flow-model tables; not offered",
    ("comfyui_node", "OptimalStepsScheduler[Wan]"): "flow-model tables; not offered",
    ("comfyui_node", "OptimalStepsScheduler[Chroma]"): "flow-model tables; not offered",
    ("comfyui_node_denoise", "GITSScheduler[1.20]"): "GITS not offered",
    ("comfyui_node_denoise", "SDTurboScheduler"): "SD-Turbo grid not offered",
    ("k-diffusion", "get_sigmas_vp"): "continuous VP-SDE models only; not offered",
    ("forge", "turbo"): "Forge-only turbo grid; not offered",
    ("forge", "align_your_steps_GITS"): "Forge-only table; not offered",
    ("forge", "align_your_steps_32"): "Forge-only 32-value table; not offered",
    ("feynlee-latent-upscale", "ddim_uniform"): "old ldm DDIM index set of the replaced "
    "extension (hidden in its UI; fails above 1000 steps); we follow the hosts' DDIM",
    ("feynlee-latent-upscale_edge", "ddim_uniform"): "see feynlee ddim_uniform",
    ("feynlee-latent-upscale_img2img", "ddim_uniform"): "see feynlee ddim_uniform",
}


def runner(case: dict) -> Callable[[dict], Tensor] | None:
    entry = RUNNERS.get(case["implementation"])
    if isinstance(entry, dict):
        return entry.get(case["schedule"])
    return entry


def _params(**match) -> list:
    """The cases ``match`` selects that we reproduce; an error when there are none."""
    run = [pytest.param(c, id=c["id"]) for c in golden.cases(FILE, **match) if runner(c)]
    return golden.require(run, f"{FILE} {match} with a runner")


def assert_matches(ours: Tensor, case: dict) -> None:
    """Same length, exact zeros, 1e-5 relative elsewhere; a reference NaN must be finite here."""
    expected = torch.tensor(golden.values(case["output"]), dtype=torch.float64)
    assert ours.ndim == 1
    assert ours.device.type == "cpu"
    assert ours.numel() == expected.numel() == case.get("len", expected.numel())
    got = ours.double()
    nan = expected.isnan()
    assert torch.isfinite(got[nan]).all(), "reference NaN must become a finite value"
    zero = expected == 0
    assert (got[zero] == 0).all(), f"zeros expected at {zero.nonzero().flatten().tolist()}"
    rest = ~(nan | zero)
    rel = (got[rest] - expected[rest]).abs() / expected[rest].abs()
    worst = float(rel.max()) if rel.numel() else 0.0
    assert worst <= RTOL, f"max relative error {worst:.3g}"


@pytest.mark.parametrize("case", _params())
def test_golden_case(case: dict) -> None:
    ours = runner(case)(case)
    if case["id"].endswith("steps=1") and "NaN" in case["output"]:
        # ComfyUI kl_optimal at 1 step divides by zero; we go from sigma_max straight to 0
        assert ours.tolist()[1] == 0.0
        assert math.isclose(ours[0].item(), comfy()[-1].item(), rel_tol=RTOL)
    assert_matches(ours, case)
    if "summary" in case:
        s = case["summary"]
        assert ours.numel() == s["len"]
        assert torch.allclose(ours[:5].double(), torch.tensor(s["first5"]).double(), rtol=RTOL)
        assert torch.allclose(ours[-5:].double(), torch.tensor(s["last5"]).double(), rtol=RTOL)
        assert ours.unique().numel() == s["n_unique"]
        assert bool((ours[1:] < ours[:-1]).all()) == s["strictly_decreasing"]


def test_every_group_is_covered_or_explained() -> None:
    groups = {(c["implementation"], c["schedule"]) for c in golden.load(FILE)["cases"]}
    dispatched = {g for g in groups if runner({"implementation": g[0], "schedule": g[1]})}
    assert not dispatched & set(NOT_IMPLEMENTED)
    assert groups - dispatched - set(NOT_IMPLEMENTED) == set()
    # both lists name only groups the data holds, so neither can go stale unnoticed
    assert set(NOT_IMPLEMENTED) <= groups
    runner_groups = {
        (impl, schedule)
        for impl, entry in RUNNERS.items()
        if isinstance(entry, dict)
        for schedule in entry
    }
    assert runner_groups <= groups
    plain = {impl for impl, entry in RUNNERS.items() if not isinstance(entry, dict)}
    assert plain <= {impl for impl, _ in groups}


def test_in_repository_data_holds_every_group_with_provenance() -> None:
    """The extract in tests/reference is enough on its own: every group, each with its source."""
    data = golden.in_repo(FILE)
    groups = {(c["implementation"], c["schedule"]) for c in data["cases"]}
    listed = {(g["implementation"], g["schedule"]): g for g in data["groups"]}
    assert set(listed) == groups
    assert len(groups) == 107  # schedules-and-methods.md section 5
    for key, group in listed.items():
        assert group["cases"] == sum(
            1 for c in data["cases"] if (c["implementation"], c["schedule"]) == key
        )
        # a commit hash or a version number names what produced the group
        assert re.search(r"@[0-9a-f]{7}|v1\.10|\d+\.\d+\.\d+", group["provenance"]), key
    assert len({c["id"] for c in data["cases"]}) == len(data["cases"])


def test_in_repository_data_equals_the_external_set() -> None:
    """Where an external golden set is present, the extract must hold its numbers unchanged."""
    data = golden.in_repo(FILE)
    dropped = set(data["extracted_from"]["dropped_fields"])
    full = golden.external(FILE)
    if full is None:  # a plain clone: the tests run on exactly the extract
        assert golden.load(FILE)["cases"] == data["cases"]
        return
    by_id = {c["id"]: c for c in full["cases"]}
    shared = [c for c in data["cases"] if c["id"] in by_id]
    if golden.external_sha256(FILE) == data["extracted_from"]["sha256"]:
        assert len(shared) == len(data["cases"])  # the very file it was extracted from
    for case in shared:
        source = by_id[case["id"]]
        assert case == {k: v for k, v in source.items() if k not in dropped}, case["id"]


@pytest.mark.parametrize("case", _params(implementation="comfyui", schedule="kl_optimal"))
def test_comfyui_kl_optimal_nan_is_replaced(case: dict) -> None:
    ours = get_sigmas("kl_optimal_comfyui", case["steps"], comfy())
    assert torch.isfinite(ours).all()
    if case["steps"] == 1:
        assert ours[1].item() == 0.0
        assert ours[0].item() == pytest.approx(comfy()[-1].item(), rel=RTOL)


@pytest.mark.parametrize("case", _params(implementation="a1111_img2img"))
def test_img2img_slice_fields(case: dict) -> None:
    total, t_enc = img2img_steps(
        case["steps"], case["params"]["denoise"], case["params"]["img2img_fix_steps"]
    )
    assert total - t_enc - 1 == case["start_index"]


def test_drop_penultimate_matches_a1111_dpm2_group() -> None:
    for case in golden.cases(FILE, implementation="a1111", schedule="automatic[DPM2]"):
        full = get_sigmas("karras", case["steps"] + 1, a1111())
        assert_matches(drop_penultimate(full), case)


def test_a_filter_that_selects_nothing_fails() -> None:
    """golden.cases() and golden.require() never let an empty selection pass vacuously."""
    with pytest.raises(LookupError, match="no reference case"):
        golden.cases(FILE, implementation="a1111", schedule="no such schedule")
    with pytest.raises(LookupError, match="no reference case"):
        golden.cases(FILE, no_such_field="a1111")
    with pytest.raises(LookupError, match="no reference case"):
        _params(implementation="forge", schedule="turbo")  # present, but not reproduced here


@pytest.mark.parametrize("case", _params(implementation="a1111_img2img"))
def test_latent_upscale_img2img_runs_the_webui_slice(case: dict) -> None:
    """What Latent Upscale runs (img2img_sigmas) is the WebUI's slice of the same schedule,
    except where that slice is not the slider's steps: with full steps a DDIM schedule longer
    than total + 1 keeps only its last steps + 1 values (as ComfyUI's KSampler does)."""
    p = case["params"]
    kwargs = {"sampler": p["sampler"]} if case["schedule"] == "Automatic" else {}
    full = p["img2img_fix_steps"]
    ours = img2img_sigmas(case["schedule"], case["steps"], p["denoise"], full, a1111(), **kwargs)
    webui = golden.values(case["output"])
    if full and len(webui) > case["steps"] + 1:
        assert case["schedule"] == "DDIM"
        tail = {k: v for k, v in case.items() if k != "len"}
        assert_matches(ours, {**tail, "output": case["output"][-(case["steps"] + 1) :]})
    else:
        assert_matches(ours, case)


def test_an_external_set_adds_its_other_cases(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """LATENT_UPSCALE_GOLDEN: cases the extract lacks are added; a folder without the file is
    an error, never a silent skip."""
    base = golden.in_repo(FILE)
    extra = {**base["cases"][0], "id": "external-only/case"}
    (tmp_path / FILE).write_text(json.dumps({"meta": {}, "cases": [base["cases"][1], extra]}))
    caches = (golden.external, golden.load)
    monkeypatch.setenv("LATENT_UPSCALE_GOLDEN", str(tmp_path))
    try:
        for cache in caches:
            cache.cache_clear()
        merged = golden.load(FILE)["cases"]
        assert len(merged) == len(base["cases"]) + 1
        assert merged[-1]["id"] == "external-only/case"
        with pytest.raises(FileNotFoundError, match=r"upscale\.json"):
            golden.load("upscale.json")
    finally:
        monkeypatch.undo()
        for cache in caches:
            cache.cache_clear()
