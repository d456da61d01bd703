"""Where users are: autocast, flow models, other extensions, threads, paste and bounded work.

Each test here runs on the stub hosts and checks one behaviour a real setup depends on: the
hosts run ``init`` under autocast, SD3/Flux have flow-matching sigma tables, other extensions
replace methods or run passes of their own, API servers run jobs in several threads.
"""

from __future__ import annotations

import sys
import threading
import types

import pytest
import torch

from latent_upscale import METHODS, SCHEDULES, plan_img2img, upscale
from latent_upscale.steps import MAX_SCHEDULE_LENGTH
from tests.webui_stub import _forget, encoded, install_host

SIZE = (64, 48)  # init image (height, width): latent 8 x 6
TARGET = (9, 12)  # p.height 72 // 8, p.width 96 // 8


def settings(host, method="nearest-exact", scheduler="simple", full_steps=True):
    return host.webui.Settings(method, scheduler, full_steps)


def planned(name, steps, denoise, full_steps, table, sampler="Euler"):
    """What the command prints for this job (the one schedule path)."""
    return plan_img2img(name, steps, denoise, full_steps, table.cpu(), sampler=sampler).sigmas


# ---------------------------------------------------------------------------------------------
# Autocast: the hosts call init under devices.autocast(); the stub does too


@pytest.mark.parametrize("method", list(METHODS))
def test_the_resize_is_exact_under_the_hosts_autocast(host, method):
    p = host.img2img(SIZE)
    host.webui.run_job(p, settings(host, method))
    want = upscale(encoded(p), TARGET, method)  # outside any autocast
    assert p.init_latent.dtype == want.dtype
    torch.testing.assert_close(p.init_latent, want, rtol=0, atol=0)


def test_a_large_lanczos_resize_is_exact_under_autocast(host, monkeypatch):
    # the case: std-3 latents, 32 -> 48; matmul under bfloat16 autocast was off by 0.079
    latent = torch.randn(1, 4, 32, 32, generator=torch.Generator().manual_seed(0)) * 3
    monkeypatch.setattr(type(host.img2img(SIZE).sd_model), "encode", lambda self, image: latent)
    p = host.img2img((256, 256), width=384, height=384)
    host.webui.run_job(p, settings(host, "lanczos"))
    torch.testing.assert_close(p.init_latent, upscale(latent, (48, 48), "lanczos"), rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# Flow-matching models (SD3 on A1111 1.10, Flux on Forge): sigmas in (0, 1]


FLOW_HOSTS = ("a1111-1.10", "forge")  # SD3 arrived in A1111 1.10; Flux runs on Forge


@pytest.fixture(params=FLOW_HOSTS)
def flow_host(request, monkeypatch):
    return install_host(monkeypatch, request.param)


def flow_model(host, shift=3.0, channels=16):
    return host.processing.StubModel(channels=channels, flow_shift=shift)


@pytest.mark.parametrize("name", [n for n, s in SCHEDULES.items() if not s.sd_only])
def test_flow_models_run_the_schedules_defined_for_them(flow_host, name):
    host = flow_host
    p = host.img2img(SIZE, model=flow_model(host), steps=8, denoising_strength=0.5)
    ran = host.webui.run_job(p, settings(host, "bislerp", name)).sampler_runs[0]
    table = p.sampler.model_wrap.sigmas
    assert float(table[-1]) <= 1.0  # the job's own (flow) table, not the SD one
    want = planned(name, 8, 0.5, True, table)
    torch.testing.assert_close(ran["sigmas"], want, rtol=2e-6, atol=1e-7)
    assert float(ran["sigmas"][0]) <= 1.0 + 1e-6
    assert p.init_latent.shape == (1, 16, *TARGET)


@pytest.mark.parametrize("name", [n for n, s in SCHEDULES.items() if s.sd_only])
def test_flow_models_refuse_sd_only_schedules_before_sampling(flow_host, name):
    host = flow_host
    p = host.img2img(SIZE, model=flow_model(host, shift=1.15), steps=8)
    with pytest.raises(ValueError, match="flow-matching") as error:
        host.webui.run_job(p, settings(host, "area", name))
    message = str(error.value)
    for working in (n for n, s in SCHEDULES.items() if not s.sd_only):
        assert working in message
    assert p.sampler.runs == []  # nothing was sampled
    assert p.sampler_noise_scheduler_override is None


# ---------------------------------------------------------------------------------------------
# Never silently do nothing


def test_an_instance_init_that_skips_ours_fails_before_sampling(host):
    p = host.img2img(SIZE)
    host_init = type(p).init.__wrapped__  # the WebUI's own init, without the extension's hook
    p.init = types.MethodType(host_init, p)  # another extension replaced init on the instance
    with pytest.raises(RuntimeError, match="without the extension's init hook"):
        host.webui.run_job(p, settings(host, "bislerp", "karras"))
    assert p.sampler.runs == []
    assert "latent_upscale_settings" not in vars(p)


def test_an_instance_init_that_calls_ours_still_works(host):
    p = host.img2img(SIZE)
    ours = p.init  # bound class method: the extension's wrapper

    def wrapped(*args, **kwargs):  # how well-behaved extensions wrap a method
        return ours(*args, **kwargs)

    p.init = wrapped
    host.webui.run_job(p, settings(host, "bislerp"))
    torch.testing.assert_close(p.init_latent, upscale(encoded(p), TARGET, "bislerp"))


def test_after_reload_ui_the_current_code_runs(host, monkeypatch):
    old_settings = host.webui.Settings
    # "Reload UI": the package is imported anew, the host keeps its wrapped classes
    _forget(monkeypatch, ("latent_upscale",))
    host.load_extension()
    new = sys.modules["latent_upscale.webui"]
    assert new.Settings is not old_settings
    for make in (new.Settings, old_settings):  # X/Y/Z axes made by the old import: old class
        p = host.img2img(SIZE)
        processed = new.run_job(p, make("bislerp", "karras", True))
        want = upscale(encoded(p), TARGET, "bislerp")
        torch.testing.assert_close(p.init_latent, want, rtol=0, atol=0)
        assert "Latent upscale scheduler: karras" in processed.info
        want = planned("karras", p.steps, p.denoising_strength, True, p.sampler.model_wrap.sigmas)
        torch.testing.assert_close(processed.sampler_runs[0]["sigmas"], want)


def test_a_sampler_that_ignores_the_override_is_reported(host, monkeypatch):
    def no_override(self, p, steps):  # another extension's sampler: its own schedule only
        return self.model_wrap.get_sigmas(steps).cpu()

    kdiff = host.modules.sd_samplers_kdiffusion
    monkeypatch.setattr(kdiff.KDiffusionSampler, "get_sigmas", no_override)
    p = host.img2img(SIZE)
    processed = host.webui.run_job(p, settings(host, "area", "karras"))
    assert "Latent upscale scheduler: automatic" in processed.info
    assert "Latent upscale scheduler: karras" not in processed.info
    assert any("never asked for the schedule override" in c for c in p.comments)


# ---------------------------------------------------------------------------------------------
# Other extensions' passes after our sampling (ADetailer's inpaint pass)


def test_later_passes_see_the_users_fields(host):
    seen = []

    def adetailer_like(p):  # runs between the job's sampling and its infotext
        if seen:
            return  # its own pass runs the host's postprocessing too
        seen.append(
            (getattr(p, "scheduler", None), p.sampler_noise_scheduler_override, dict(vars(p)))
        )
        second = host.img2img(SIZE, resize_mode=0, steps=p.steps, denoising_strength=0.4)
        if hasattr(p, "scheduler"):
            second.scheduler = p.scheduler  # "use same scheduler"
        host.processing.process_images(second)
        seen.append(second.sampler.runs[0])

    host.shared.state.on_postprocess = adetailer_like
    try:
        scheduler = {"scheduler": "Karras"} if host.shape.schedulers else {}
        p = host.img2img(SIZE, **scheduler)
        host.webui.run_job(p, settings(host, "area", "beta", full_steps=True))
    finally:
        host.shared.state.on_postprocess = None
    user_scheduler, override, _ = seen[0]
    assert user_scheduler == scheduler.get("scheduler")
    assert override is None
    second = seen[1]
    # the second pass ran as it runs outside any Latent Upscale job: the WebUI's own step rule
    # and the user's scheduler, not our beta with full steps
    alone = host.img2img(SIZE, resize_mode=0, steps=20, denoising_strength=0.4, **scheduler)
    host.processing.process_images(alone)
    want = alone.sampler.runs[0]
    assert (second["total"], second["t_enc"]) == (want["total"], want["t_enc"]) == (20, 8)
    assert torch.equal(second["sigmas"], want["sigmas"])


# ---------------------------------------------------------------------------------------------
# Threads: jobs overlap in API servers and extensions


def test_overlapping_jobs_in_threads_keep_their_own_resize(host, monkeypatch):
    """A (bislerp) and B (lanczos) overlap inside init; A leaves first. Each gets its method,
    a plain job in between gets the host's bilinear, and torch's interpolate is back after."""
    original = torch.nn.functional.interpolate
    a_inside, b_inside, a_go, b_go = (threading.Event() for _ in range(4))
    conditioning = host.processing.StableDiffusionProcessingImg2Img.img2img_image_conditioning

    def wait_in_init(self, *args):  # after the latent resize, still inside init's redirect
        if getattr(self, "tag", None) == "A":
            a_inside.set()
            assert a_go.wait(10)
        elif getattr(self, "tag", None) == "B":
            b_inside.set()
            assert b_go.wait(10)
        return conditioning(self, *args)

    monkeypatch.setattr(
        host.processing.StableDiffusionProcessingImg2Img, "img2img_image_conditioning", wait_in_init
    )
    jobs = {
        "A": host.img2img(SIZE, tag="A"),
        "B": host.img2img(SIZE, tag="B"),
    }
    errors = []

    def run(tag, method):
        try:
            host.webui.run_job(jobs[tag], settings(host, method))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    a = threading.Thread(target=run, args=("A", "bislerp"))
    b = threading.Thread(target=run, args=("B", "lanczos"))
    a.start()
    assert a_inside.wait(10)
    b.start()
    assert b_inside.wait(10)
    plain = host.img2img(SIZE)  # a job without the extension, in this thread, meanwhile
    host.processing.process_images(plain)
    a_go.set()
    a.join(10)
    b_go.set()
    b.join(10)
    assert not errors
    assert torch.nn.functional.interpolate is original
    for tag, method in (("A", "bislerp"), ("B", "lanczos")):
        want = upscale(encoded(jobs[tag]), TARGET, method)
        torch.testing.assert_close(jobs[tag].init_latent, want, rtol=0, atol=0)
    bilinear = original(encoded(plain), size=TARGET, mode="bilinear")
    assert torch.equal(plain.init_latent, bilinear)


# ---------------------------------------------------------------------------------------------
# Paste selects the script; bounded work


def test_the_script_writes_the_script_key_and_xyz_jobs_do_not(host):
    processed = host.webui.run_job(host.img2img(SIZE), settings(host))
    assert "Script: Latent Upscale" in processed.info
    infotext = getattr(host.modules, host.shape.infotext_module)
    assert infotext.parse_generation_parameters(processed.info)["Script"] == "Latent Upscale"
    p = host.img2img(SIZE)
    p.latent_upscale_settings = settings(host)  # what an X/Y/Z axis does: the plot is the script
    assert "Script" not in host.processing.process_images(p).info


@pytest.mark.parametrize(
    ("steps", "denoise"), [(4, 1e-7), (150, 0.0149), (MAX_SCHEDULE_LENGTH + 1, 1)]
)
def test_work_is_bounded_before_anything_runs(host, steps, denoise):
    p = host.img2img(SIZE, steps=steps, denoising_strength=denoise)
    with pytest.raises(ValueError, match=f"the limit is {MAX_SCHEDULE_LENGTH} schedule steps"):
        host.webui.run_job(p, settings(host))
    assert p.init_latent is None  # refused before encoding


def test_the_largest_accepted_job_runs(host):
    p = host.img2img(SIZE, steps=150, denoising_strength=0.015)
    ran = host.webui.run_job(p, settings(host, "area", "karras")).sampler_runs[0]
    assert ran["sigmas"].numel() == 151
    # Simple reads the table: between its lowest entries and denoise 0.015 it has 15 distinct
    # sigmas, so 15 steps run (ComfyUI would repeat them into 150 steps, 135 of zero length)
    p = host.img2img(SIZE, steps=150, denoising_strength=0.015)
    ran = host.webui.run_job(p, settings(host, "area", "simple")).sampler_runs[0]
    assert ran["sigmas"].numel() == 16
    assert bool((ran["sigmas"][1:] < ran["sigmas"][:-1]).all())


# ---------------------------------------------------------------------------------------------
# Same label, other schedule: reForge's "Beta" is ComfyUI's, its "Align Your Steps" differs


@pytest.mark.parametrize(
    ("name", "label"), [("beta", "Beta"), ("align_your_steps", "Align Your Steps")]
)
def test_on_reforge_our_schedule_runs_not_the_hosts_same_label(monkeypatch, name, label):
    host = install_host(monkeypatch, "reforge")
    own = host.processing.process_images(host.img2img(SIZE, steps=8, scheduler=label))
    p = host.img2img(SIZE, steps=8, scheduler=label)
    ran = host.webui.run_job(p, settings(host, "area", name, full_steps=False)).sampler_runs[0]
    want = planned(name, 8, 0.5, False, p.sampler.model_wrap.sigmas)
    torch.testing.assert_close(ran["sigmas"], want, rtol=2e-6, atol=1e-7)
    host_sigmas = own.sampler_runs[0]["sigmas"]
    assert host_sigmas.shape != want.shape or not torch.equal(host_sigmas, want)  # ~1e-4 for AYS


def test_the_method_control_and_the_readme_agree_on_nearest_exact():
    """Both say nearest-exact wants denoise 0.5 or more (its blocks show below)."""
    import re
    from pathlib import Path

    from latent_upscale import ui

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `nearest-exact` |"))
    assert re.search(r"denoise ≳ 0\.5", row)
    assert re.search(r"nearest-exact[^.]*denoise 0\.5 or more", ui.METHOD_INFO)


# ---------------------------------------------------------------------------------------------
# Found in review: wrapper chains, the WebUI's global step setting, early step-rule calls


def test_a_wrapper_put_around_ours_during_a_job_does_not_recurse(host, monkeypatch):
    functional = torch.nn.functional
    monkeypatch.setattr(functional, "interpolate", functional.interpolate)  # undone after
    with host.webui.redirect_interpolate(lambda input, call: None):
        seen = functional.interpolate  # ours, while a job runs

        def theirs(*args, **kwargs):  # another extension's permanent wrapper
            return seen(*args, **kwargs)

        functional.interpolate = theirs
    for method in ("bislerp", "lanczos"):  # later jobs run through their wrapper and ours
        p = host.img2img(SIZE)
        host.webui.run_job(p, settings(host, method))
        want = upscale(encoded(p), TARGET, method)
        torch.testing.assert_close(p.init_latent, want, rtol=0, atol=0)
    plain = host.img2img(SIZE)
    host.processing.process_images(plain)
    bilinear = torch.nn.functional.interpolate(encoded(plain), size=TARGET, mode="bilinear")
    assert torch.equal(plain.init_latent, bilinear)
    assert functional.interpolate is theirs  # theirs stays; ours is only inside it


def test_ours_put_back_by_another_extension_after_the_job_does_not_recurse(host, monkeypatch):
    functional = torch.nn.functional
    monkeypatch.setattr(functional, "interpolate", functional.interpolate)
    with host.webui.redirect_interpolate(lambda input, call: None):
        saved = functional.interpolate  # another extension saves the current (ours) ...
        functional.interpolate = lambda *a, **k: saved(*a, **k)  # ... patches ...
    functional.interpolate = saved  # ... and restores ours after our job ended
    p = host.img2img(SIZE)
    host.webui.run_job(p, settings(host, "bislerp"))
    torch.testing.assert_close(p.init_latent, upscale(encoded(p), TARGET, "bislerp"))
    plain = host.img2img(SIZE)
    host.processing.process_images(plain)  # no RecursionError, the host's bilinear
    assert plain.init_latent.shape[-2:] == TARGET


def test_the_webuis_global_full_steps_setting_counts(host):
    host.shared.opts._stub_set("img2img_fix_steps", True)  # the user's setting, on
    p = host.img2img(SIZE, steps=4, denoising_strength=0.0002)
    with pytest.raises(ValueError, match=f"the limit is {MAX_SCHEDULE_LENGTH} schedule steps") as e:
        host.webui.run_job(p, settings(host, "area", "karras", full_steps=False))
    assert "through the WebUI's setting" in str(e.value)  # the checkbox is not what to untick
    assert p.init_latent is None
    p = host.img2img(SIZE, steps=10, denoising_strength=0.5)
    processed = host.webui.run_job(p, settings(host, "area", "karras", full_steps=False))
    ran = processed.sampler_runs[0]
    assert ran["sigmas"].numel() == 11  # the host ran full steps: so the infotext says so
    assert "Latent upscale full steps: True" in processed.info


def test_an_extension_asking_the_step_rule_before_init_is_fine(host):
    asked = []

    class Scripts:  # an always-on script whose process() reads the job's step counts
        def before_process(self, p):
            pass

        def process(self, p):
            asked.append(host.modules.sd_samplers_common.setup_img2img_steps(p))

        def before_process_init_images(self, p, pp):
            pass

    p = host.img2img(SIZE, steps=10, denoising_strength=0.5)
    p.scripts = Scripts()
    processed = host.webui.run_job(p, settings(host, "bislerp", "karras"))
    assert asked == [(10, 5)]  # the WebUI's own rule: the job's sampling had not begun
    assert processed.sampler_runs[0]["sigmas"].numel() == 11  # full steps in the sampling
