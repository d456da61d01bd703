"""The script's controls under the real Gradio the hosts ship (3.41.2 A1111, 4.40.0 Forge).

Skipped without Gradio (the main test environment); ``.ci/ui_check.sh`` runs it in throwaway
environments with each Gradio version.
"""

from __future__ import annotations

import pytest

gr = pytest.importorskip("gradio", reason="Gradio is not installed here: run .ci/ui_check.sh")

from latent_upscale import METHODS, SCHEDULES, options  # noqa: E402
from tests.webui_stub import install_host  # noqa: E402

GRADIO_MAJOR = int(gr.__version__.split(".")[0])


@pytest.fixture
def host(monkeypatch):
    shape = "forge" if GRADIO_MAJOR >= 4 else "a1111-1.10"  # the host that ships this Gradio
    return install_host(monkeypatch, shape, fake_gradio=False)


def _choice_values(dropdown):
    return [c[1] if isinstance(c, tuple | list) else c for c in dropdown.choices]


def test_controls_build_with_valid_explicit_values(host):
    with gr.Blocks() as demo:
        controls = host.script.ui(True)
        again = host.script.ui(True)  # the API builds the UI again for default arguments
    method, scheduler, full_steps, scale, passes, later = controls
    assert all(isinstance(c, gr.Slider) for c in (scale, passes, later))
    # README: upscale by 0 (off) up to 4 in the UI, 1-4 passes, later passes' denoise 0.4
    assert (scale.value, passes.value, later.value) == (0, 1, 0.4)
    assert (scale.minimum, scale.maximum, passes.minimum, passes.maximum) == (0, 4, 1, 4)
    assert isinstance(method, gr.Dropdown)
    assert isinstance(scheduler, gr.Dropdown)
    assert isinstance(full_steps, gr.Checkbox)
    assert method.value in _choice_values(method)
    assert scheduler.value in _choice_values(scheduler)
    # every method and schedule once (README: 9 methods, 16 schedules), in the package's order
    assert _choice_values(method) == [m.label for m in METHODS.values()]
    assert _choice_values(scheduler) == [s.label for s in SCHEDULES.values()]
    assert len(set(_choice_values(method))) == 9
    assert len(set(_choice_values(scheduler))) == 16
    # the documented defaults (README "Options"): nearest-exact, simple, full steps on
    assert (method.value, scheduler.value, full_steps.value) == ("Nearest (exact)", "Simple", True)
    assert [c.value for c in controls] == [c.value for c in again]
    assert options.parse_args([c.value for c in controls]) == options.Settings()
    assert all(c.elem_id and c.elem_id.startswith("script_") for c in controls)
    config = demo.get_config_file()
    assert len(config["components"]) >= 12


def test_infotext_fields_fit_the_components(host):
    with gr.Blocks():
        controls = host.script.ui(True)
    fields = host.script.infotext_fields
    # the paste targets are the very controls this UI build returned, in their order
    assert len(fields) == len(controls) == 6
    pairs = zip(fields, controls, strict=True)
    assert all(component is control for (component, _), control in pairs)
    # a pasted infotext as an image carries it (the keys README's infotext table lists)
    params = {
        "Latent upscale method": "bislerp",
        "Latent upscale scheduler": "karras",
        "Latent upscale full steps": "False",
        "Latent upscale by": "1.5",
        "Latent upscale passes": "2",
    }
    values = [key(params) for _, key in fields]
    assert values == ["Bislerp", "Karras", False, 1.5, 2, 0.4]  # later denoise: its default
    assert [key({}) for _, key in fields] == [None] * 6  # absent keys leave controls
    for (component, _), value in zip(fields, values, strict=True):
        if isinstance(component, gr.Dropdown):
            assert value in _choice_values(component)
