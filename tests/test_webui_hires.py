"""txt2img Hires. fix on stubbed WebUIs: our upscalers join the host's list, the others stay put."""

from __future__ import annotations

import re
from copy import copy

import pytest
import torch

from latent_upscale import METHODS, upscale
from tests.webui_stub import assert_same, install_host, shape_params

BUILT_IN = (  # the six latent upscalers every supported host has (hosts notes, section 14)
    "Latent",
    "Latent (antialiased)",
    "Latent (bicubic)",
    "Latent (bicubic antialiased)",
    "Latent (nearest)",
    "Latent (nearest-exact)",
)
# the host's six built-ins run torch's nearest, nearest-exact, bilinear (+aa) and bicubic (+aa):
# every other registry method joins as "Latent (<name>)" (today area, bislerp and lanczos)
HOST_MODES = {("nearest", False), ("nearest-exact", False), ("bilinear", False),
              ("bilinear", True), ("bicubic", False), ("bicubic", True)}  # fmt: skip
OURS = {
    f"Latent ({name})": name
    for name, method in METHODS.items()
    if (method.mode, method.antialias) not in HOST_MODES
}
PIXEL = ("Lanczos", "Nearest")  # the stub's pixel upscalers
FIRST = (8, 6)  # first-pass latent: 64 x 48 pixels
SCALE = 1.5
TARGET = (12, 9)  # int(64 * 1.5) // 8, int(48 * 1.5) // 8: a non-integer factor
JOB = {"enable_hr": True, "hr_scale": SCALE, "denoising_strength": 0.6, "steps": 5}


def first_pass(host, **kwargs):
    """The first pass's samples: the same job without Hires. fix."""
    p = host.txt2img(**{**JOB, **kwargs, "enable_hr": False})
    return torch.stack(host.processing.process_images(p).images)


def hires(host, upscaler, **kwargs):
    """A Hires. fix job; returns (p, Processed)."""
    p = host.txt2img(**{**JOB, "hr_upscaler": upscaler, **kwargs})
    return p, host.processing.process_images(p)


def results(processed):
    """What a job produced: final latents, the hires pass's start latent, sigmas, infotext."""
    run = processed.sampler_runs[-1]
    return torch.stack(processed.images), run.get("x"), run["sigmas"], processed.info


# ---------------------------------------------------------------------------------------------
# Registration


def test_our_upscalers_follow_the_hosts_own_in_its_style(host):
    modes = host.shared.latent_upscale_modes
    assert list(modes) == [*BUILT_IN, *OURS]
    assert modes["Latent (area)"] == {"mode": "area", "antialias": False}  # torch runs it itself
    # the other two are no torch mode: without our hook torch refuses them loudly
    for name in ("Latent (bislerp)", "Latent (lanczos)"):
        with pytest.raises(NotImplementedError):
            torch.nn.functional.interpolate(torch.zeros(1, 4, 2, 2), size=(3, 3), **modes[name])


def test_registered_once_across_reloads(host, capsys):
    cls = host.processing.StableDiffusionProcessingTxt2Img
    wrapper = cls.sample_hr_pass
    before = dict(host.shared.latent_upscale_modes)
    capsys.readouterr()
    for _ in range(3):
        host.load_extension()
    assert host.shared.latent_upscale_modes == before
    assert list(host.shared.latent_upscale_modes) == [*BUILT_IN, *OURS]
    assert cls.sample_hr_pass is wrapper
    assert cls.sample_hr_pass.__wrapped__.__module__ == "modules.processing"
    assert "upscalers added" not in capsys.readouterr().out
    host.start_ui()  # "Reload UI" builds the tab again
    choices = host.txt2img_ui.hr_upscaler.choices
    assert [choices.count(name) for name in OURS] == [1] * len(OURS)
    _, processed = hires(host, "Latent (bislerp)")
    assert torch.equal(
        processed.sampler_runs[-1]["x"], upscale(first_pass(host), TARGET, "bislerp")
    )


def test_the_dropdown_and_the_xyz_axis_list_them(host):
    assert host.txt2img_ui.hr_upscaler.choices == [*BUILT_IN, *OURS, *PIXEL]
    axis = next(a for a in host.xyz.axis_options if a.label == "Hires upscaler")
    assert axis.choices() == [*BUILT_IN, *OURS, *PIXEL]


def test_an_other_extensions_entry_under_our_name_is_kept(monkeypatch, capsys):
    host = install_host(monkeypatch, "a1111-1.10", extension=False)
    theirs = {"mode": "bicubic", "antialias": False}
    host.shared.latent_upscale_modes["Latent (lanczos)"] = theirs
    host.load_extension()
    assert host.shared.latent_upscale_modes["Latent (lanczos)"] is theirs
    assert "Latent (bislerp)" in host.shared.latent_upscale_modes
    assert "already taken" in capsys.readouterr().out


def test_a_mode_the_host_already_offers_is_not_added_again(monkeypatch):
    host = install_host(monkeypatch, "a1111-1.10", extension=False)
    host.shared.latent_upscale_modes["Latent (box)"] = {"mode": "area", "antialias": False}
    host.load_extension()
    assert "Latent (area)" not in host.shared.latent_upscale_modes
    assert "Latent (bislerp)" in host.shared.latent_upscale_modes


@pytest.mark.parametrize("missing", ["sample_hr_pass", "latent_upscale_modes", "txt2img class"])
def test_a_host_without_the_hook_point_is_left_alone(monkeypatch, capsys, missing):
    host = install_host(monkeypatch, "a1111-1.10", extension=False)
    cls = host.processing.StableDiffusionProcessingTxt2Img
    if missing == "sample_hr_pass":
        monkeypatch.delattr(cls, "sample_hr_pass")
    elif missing == "latent_upscale_modes":
        monkeypatch.setattr(host.shared, "latent_upscale_modes", tuple(BUILT_IN))
    else:
        monkeypatch.delattr(host.processing, "StableDiffusionProcessingTxt2Img")
    before = copy(host.shared.latent_upscale_modes)
    host.load_extension()
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "Hires. fix" in line]
    assert len(lines) == 1
    assert "Hires. fix is left as it is" in lines[0]
    assert host.shared.latent_upscale_modes == before
    assert "_latent_upscale_original_sample_hr_pass" not in vars(cls)  # nothing wrapped
    assert "img2img hooks installed" in out  # the img2img script is not affected
    assert host.webui.install() == []


# ---------------------------------------------------------------------------------------------
# The hires pass


@pytest.mark.parametrize("name", list(OURS))
def test_each_of_ours_resizes_with_the_package_method(host, name):
    samples = first_pass(host, batch_size=2)
    p, processed = hires(host, name, batch_size=2)
    got = processed.sampler_runs[-1]["x"]
    assert got.shape == (2, 4, *TARGET)
    assert torch.equal(got, upscale(samples, TARGET, OURS[name]))
    assert f"Hires upscaler: {name}" in processed.info
    assert p.latent_scale_mode is host.shared.latent_upscale_modes[name]
    assert torch.nn.functional.interpolate.__module__ == "torch.nn.functional"


def test_methods_differ_so_the_test_above_can_fail(host):
    samples = first_pass(host)
    outs = [upscale(samples, TARGET, m) for m in ("bilinear", *OURS.values())]
    assert all(not torch.equal(a, b) for i, a in enumerate(outs) for b in outs[i + 1 :])


def test_a_16_channel_model_and_batches(monkeypatch):
    host = install_host(monkeypatch, "forge")
    model = host.processing.StubModel(channels=16)
    samples = first_pass(host, model=model, batch_size=3)
    _, processed = hires(host, "Latent (lanczos)", model=model, batch_size=3)
    assert torch.equal(processed.sampler_runs[-1]["x"], upscale(samples, TARGET, "lanczos"))


def test_a_separate_timestep_hires_sampler(host, monkeypatch):
    """The resize happens before the second pass, whatever sampler that pass uses."""
    resized = []
    real = torch.nn.functional.interpolate
    monkeypatch.setattr(
        host.modules.sd_samplers_timesteps.CompVisSampler,
        "sample_img2img",
        lambda self, p, x, *args, **kwargs: resized.append(x) or x,
    )
    _, processed = hires(host, "Latent (bislerp)", hr_sampler_name="DDIM")
    assert len(resized) == 1
    assert torch.equal(resized[0], upscale(first_pass(host), TARGET, "bislerp"))
    assert torch.nn.functional.interpolate is real
    assert "Hires upscaler: Latent (bislerp)" in processed.info


@pytest.mark.parametrize("upscaler", [*BUILT_IN, *PIXEL, None, "disabled"])
def test_every_other_upscaler_is_bit_identical_to_the_host_alone(monkeypatch, upscaler):
    kwargs = {"enable_hr": False} if upscaler == "disabled" else {}
    for shape in shape_params():
        with monkeypatch.context() as mp:
            plain = install_host(mp, shape, extension=False)
            baseline = results(hires(plain, upscaler, **kwargs)[1])
        with monkeypatch.context() as mp:
            host = install_host(mp, shape)
            hires(host, "Latent (bislerp)")  # one of ours first: nothing may stay behind
            assert_same(baseline, results(hires(host, upscaler, **kwargs)[1]), shape)


def test_only_the_hires_resize_is_redirected(host, monkeypatch):
    """Other interpolate calls in the pass (here from a per-step hook) still reach torch."""
    real = torch.nn.functional.interpolate
    calls = []

    def spy(x, *args, **kwargs):
        calls.append(kwargs.get("mode"))
        return real(x, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "interpolate", spy)
    seen = []

    def on_step(p, i):
        if p.is_hr_pass and i == 0:
            x = torch.arange(24.0).reshape(1, 1, 4, 6)
            out = torch.nn.functional.interpolate(x, size=(12, 9), mode="bilinear")
            seen.append(torch.equal(out, real(x, size=(12, 9), mode="bilinear")))

    monkeypatch.setattr(host.shared.state, "on_step", on_step)
    hires(host, "Latent (bislerp)")
    assert seen == [True]
    assert "bilinear" in calls
    assert not any(str(mode).startswith("latent_upscale:") for mode in calls)  # never to torch
    assert torch.nn.functional.interpolate is spy


@pytest.mark.parametrize("failure", ["exception", "interrupt-first-pass", "interrupt-hires"])
def test_nothing_is_left_behind_after_a_failed_or_interrupted_pass(monkeypatch, failure):
    real = torch.nn.functional.interpolate
    for shape in shape_params():
        with monkeypatch.context() as mp:
            plain = install_host(mp, shape, extension=False)
            baseline = [results(hires(plain, name)[1]) for name in ("Latent", "Latent (nearest)")]
        with monkeypatch.context() as mp:
            host = install_host(mp, shape)
            good = results(hires(host, "Latent (lanczos)")[1])
            state = host.shared.state

            def on_step(p, i, state=state):
                if p.is_hr_pass == (failure != "interrupt-first-pass") and i == 1:
                    if failure == "exception":
                        raise RuntimeError("sampler failed")
                    state.interrupt()

            state.on_step = on_step
            if failure == "exception":
                with pytest.raises(RuntimeError, match="sampler failed"):
                    hires(host, "Latent (lanczos)")
            else:
                hires(host, "Latent (lanczos)")  # an interrupted job is no error
            assert torch.nn.functional.interpolate is real
            state.on_step = None
            state.interrupted = False
            after = [results(hires(host, name)[1]) for name in ("Latent", "Latent (nearest)")]
            for want, got in zip(baseline, after, strict=True):
                assert_same(want, got, shape)
            assert_same(good, results(hires(host, "Latent (lanczos)")[1]), shape)


@pytest.mark.parametrize("how", ["function bound at import", "no resize call"])
def test_a_host_that_changed_its_resize_fails_clearly(host, monkeypatch, how):
    real = torch.nn.functional.interpolate
    other = real if how == "function bound at import" else (lambda x, **kwargs: x[..., :9])
    monkeypatch.setattr(host.processing, "HIRES_INTERPOLATE", other)
    with pytest.raises(RuntimeError, match=r"made no latent resize call .*Latent \(bislerp\)"):
        hires(host, "Latent (bislerp)")
    assert torch.nn.functional.interpolate is real
    hires(host, "Latent (area)")  # torch's own mode still works on such a host


# ---------------------------------------------------------------------------------------------
# Infotext, X/Y/Z, API


@pytest.mark.parametrize("name", list(OURS))
def test_infotext_is_written_and_pasted_back(host, name):
    _, processed = hires(host, name)
    assert f"Hires upscaler: {name}" in processed.info
    module = host.modules.infotext_utils if hasattr(host.modules, "infotext_utils") else None
    module = module or host.modules.generation_parameters_copypaste
    (pasted,) = module.paste(host.txt2img_ui.paste_fields, processed.info)
    assert pasted == name
    assert pasted in host.txt2img_ui.hr_upscaler.choices
    _, again = hires(host, pasted)
    assert_same(results(processed), results(again))


def test_the_xyz_hires_upscaler_axis_runs_each_cell(host):
    p = host.txt2img(**JOB)
    values = ["Latent", *OURS, "Latent (nearest)"]
    cells = host.xyz.Script().run(p, "Hires upscaler", values)
    samples = first_pass(host)
    for value, cell in zip(values, cells, strict=True):
        want = OURS.get(value)
        got = cell.sampler_runs[-1]["x"]
        if want is None:
            mode = host.shared.latent_upscale_modes[value]
            assert torch.equal(got, torch.nn.functional.interpolate(samples, TARGET, **mode))
        else:
            assert torch.equal(got, upscale(samples, TARGET, want))
        assert f"Hires upscaler: {value}" in cell.info


@pytest.mark.parametrize("name", list(OURS))
def test_api_requests_name_them_in_hr_upscaler(host, name):
    """The API builds p from the request's fields; the modes endpoint lists the dict's keys."""
    request = {
        "prompt": "a cat",
        "steps": 5,
        "enable_hr": True,
        "hr_scale": SCALE,
        "hr_upscaler": name,
        "hr_second_pass_steps": 3,
        "hr_additional_modules": ["Use same choices"],
        "denoising_strength": 0.6,
    }
    listed = [{"name": key} for key in host.shared.latent_upscale_modes]
    assert {"name": name} in listed
    processed = host.processing.process_images(host.txt2img(**request))
    run = processed.sampler_runs[-1]
    assert torch.equal(run["x"], upscale(first_pass(host), TARGET, OURS[name]))
    assert (run["total"], run["t_enc"]) == (5, 2)  # the host's fix-steps rule for 3 hires steps
    assert f"Hires upscaler: {name}" in processed.info


@pytest.mark.parametrize("name", ["Latent (bogus)", "latent (bislerp)", "Latent (bilinear)"])
def test_an_unknown_name_gets_the_hosts_own_error(host, name):
    with pytest.raises(Exception, match=re.escape(f"could not find upscaler named {name}")):
        hires(host, name)


def test_without_the_extension_our_names_are_unknown_to_the_host(monkeypatch):
    """Why images made with them don't paste once the extension is removed."""
    host = install_host(monkeypatch, "a1111-1.10", extension=False)
    assert "Latent (bislerp)" not in host.txt2img_ui.hr_upscaler.choices
    with pytest.raises(Exception, match=r"could not find upscaler named Latent \(bislerp\)"):
        hires(host, "Latent (bislerp)")


@pytest.mark.parametrize("method", list(METHODS))
def test_every_registry_method_is_a_hires_upscaler(host, method):
    """Each method of the registry is reachable in Hires. fix, as a host built-in or ours, and
    the upscaler of that name resizes the first pass exactly like ``upscale``."""
    modes = host.shared.latent_upscale_modes
    names = [name for name in modes if name == f"Latent ({method})"]
    names += [
        name
        for name, entry in modes.items()
        if name in BUILT_IN
        and entry == {"mode": METHODS[method].mode, "antialias": METHODS[method].antialias}
    ]
    assert names, f"no Hires upscaler runs {method!r}"
    _, processed = hires(host, names[0])
    want = upscale(first_pass(host), TARGET, method)
    torch.testing.assert_close(processed.sampler_runs[-1]["x"], want, rtol=0, atol=0)
