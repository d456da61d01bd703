"""The stub host's schedules (tests/webui_stub/host/sd_schedulers.py) against the real hosts.

The stub computes every WebUI 1.10 schedule itself, without the package; here its results meet
the A1111 reference vectors (tests/reference/sigmas.json, group "a1111"), on the A1111 sigma
table taken from the same reference data. reForge's differing Beta and Align Your Steps are
checked against the numbers measured on reForge main (webui-hosts.md section 15).
"""

from __future__ import annotations

import types

import pytest
import torch

from tests import golden
from tests.webui_stub import SHAPES, install_modules

FILE = "sigmas.json"
RTOL = 1e-5

# golden a1111 schedule -> (stub label, is_sdxl)
A1111_GROUPS = {
    "uniform": ("Uniform", False),
    "karras": ("Karras", False),
    "exponential": ("Exponential", False),
    "polyexponential": ("Polyexponential", False),
    "sgm_uniform": ("SGM Uniform", False),
    "kl_optimal": ("KL Optimal", False),
    "align_your_steps": ("Align Your Steps", False),
    "align_your_steps[sdxl]": ("Align Your Steps", True),
    "simple": ("Simple", False),
    "normal": ("Normal", False),
    "ddim": ("DDIM", False),
    "beta": ("Beta", False),
}


def _a1111_table() -> torch.Tensor:
    """The A1111 float32 sigma table, from the reference data (not the package)."""
    ref = golden.load(FILE)["meta"]["tables"]["a1111_f32"]["sigmas"]
    return torch.tensor(ref, dtype=torch.float32)


def _install(monkeypatch: pytest.MonkeyPatch, shape: object, sdxl: bool) -> types.ModuleType:
    modules = install_modules(monkeypatch, shape)
    monkeypatch.setattr(modules.shared, "sd_model", types.SimpleNamespace(is_sdxl=sdxl))
    return modules


def _run(modules: types.ModuleType, label: str, steps: int) -> torch.Tensor:
    """Call the stub's scheduler the way the host's get_sigmas does (default options)."""
    scheduler = modules.sd_schedulers.schedulers_map[label]
    wrap = modules.sd_samplers_kdiffusion.DiscreteTable(_a1111_table())
    kwargs = {"sigma_min": wrap.sigmas[0].item(), "sigma_max": wrap.sigmas[-1].item()}
    if scheduler.need_inner_model:
        kwargs["inner_model"] = wrap
    return scheduler.function(n=steps, **kwargs, device="cpu")


def _assert_close(ours: torch.Tensor, expected: list[float]) -> None:
    want = torch.tensor(golden.values(expected), dtype=torch.float64)
    got = ours.double()
    assert got.shape == want.shape
    zero = want == 0
    assert (got[zero] == 0).all()
    rel = ((got[~zero] - want[~zero]).abs() / want[~zero].abs()).max()
    assert float(rel) <= RTOL


def test_the_table_is_the_reference_table() -> None:
    table = _a1111_table()
    assert table.shape == (1000,)
    assert table[-1].item() == pytest.approx(14.614643, rel=1e-6)


def test_every_webui_schedule_is_checked() -> None:
    labels = {label for name, label in SHAPES["a1111-1.10"].schedulers if name != "automatic"}
    assert {label for label, _ in A1111_GROUPS.values()} == labels


@pytest.mark.parametrize("schedule", list(A1111_GROUPS))
def test_stub_schedule_matches_a1111(monkeypatch: pytest.MonkeyPatch, schedule: str) -> None:
    label, sdxl = A1111_GROUPS[schedule]
    modules = _install(monkeypatch, SHAPES["a1111-1.10"], sdxl)
    for case in golden.cases(FILE, implementation="a1111", schedule=schedule):
        ours = _run(modules, label, case["steps"])
        assert ours.dtype == torch.float32
        _assert_close(ours, case["output"])


def test_stub_schedules_do_not_call_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the package's get_sigmas broken, the stub still produces every schedule."""
    import latent_upscale.schedules as package

    def broken(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the stub host must not use the package's schedules")

    monkeypatch.setattr(package, "get_sigmas", broken)
    modules = _install(monkeypatch, SHAPES["a1111-1.10"], False)
    for label, _ in A1111_GROUPS.values():
        assert torch.isfinite(_run(modules, label, 10)).all()


def _reforge(monkeypatch: pytest.MonkeyPatch, sdxl: bool = False) -> types.ModuleType:
    """The reForge host shape (``reforge=True`` selects the stub's reForge schedules)."""
    assert SHAPES["reforge"].reforge
    return _install(monkeypatch, SHAPES["reforge"], sdxl)


def test_reforge_beta_is_comfyui_beta(monkeypatch: pytest.MonkeyPatch) -> None:
    # webui-hosts.md 15: reForge main, 8 steps on SD1 (3 decimals)
    measured = [14.615, 10.483, 5.687, 2.964, 1.618, 0.920, 0.515, 0.243, 0]
    ours = _run(_reforge(monkeypatch), "Beta", 8)
    assert ours.tolist() == pytest.approx(measured, abs=5e-4)
    a1111 = [14.615, 13.577, 11.452, 8.760, 5.884, 3.192, 1.067, 0.029, 0]
    assert _run(_install(monkeypatch, SHAPES["a1111-1.10"], False), "Beta", 8).tolist() == (
        pytest.approx(a1111, abs=5e-4)
    )


def test_reforge_beta_matches_comfyui_beta_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same algorithm as ComfyUI's beta; on the A1111 table it agrees within table precision."""
    modules = _reforge(monkeypatch)
    for case in golden.cases(FILE, implementation="comfyui", schedule="beta"):
        ours = _run(modules, "Beta", case["steps"])
        want = torch.tensor(golden.values(case["output"]), dtype=torch.float64)
        assert ours.numel() == want.numel()
        assert torch.allclose(ours.double(), want, rtol=2e-5, atol=0)


@pytest.mark.parametrize("sdxl", [False, True])
def test_reforge_align_your_steps_is_a_ratio_of_sigma_max(
    monkeypatch: pytest.MonkeyPatch, sdxl: bool
) -> None:
    """About 1e-4 from A1111's 3-decimal table (webui-hosts.md 15), never equal to it."""
    a1111 = _run(_install(monkeypatch, SHAPES["a1111-1.10"], sdxl), "Align Your Steps", 11)
    reforge = _run(_reforge(monkeypatch, sdxl), "Align Your Steps", 11)
    assert reforge.numel() == a1111.numel() == 12
    assert reforge[0].item() == pytest.approx(14.614643, rel=1e-6)  # sigma_max itself
    assert reforge[-2].item() == pytest.approx(0.029, rel=1e-6)
    rel = ((reforge[:-1] - a1111[:-1]).abs() / a1111[:-1]).double()
    assert float(rel.max()) < 5e-4
    assert float(rel[1:-1].max()) > 0  # not the same numbers
    for steps in (1, 10, 30):
        ours = _run(_reforge(monkeypatch, sdxl), "Align Your Steps", steps)
        assert ours.numel() == steps + 1
        assert bool((ours[1:] < ours[:-1]).all())
