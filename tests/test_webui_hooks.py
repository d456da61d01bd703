"""The host adapter's hooks on stubbed WebUIs: resize, schedule, steps, and nothing left behind."""

from __future__ import annotations

from copy import copy

import numpy as np
import pytest
import torch

from latent_upscale import METHODS, SCHEDULES, get_sigmas, img2img_steps, plan_img2img, upscale
from tests.webui_stub import SHAPES, assert_same, encoded, install_host, shape_params

SIZE = (64, 48)  # init image (height, width): latent 8 x 6
TARGET = (9, 12)  # p.height 72, p.width 96 // 8: non-integer factors tell methods apart


def settings(host, method="nearest-exact", scheduler="simple", full_steps=True):
    return host.webui.Settings(method, scheduler, full_steps)


def expected_sigmas(name, steps, denoise, full_steps, table, *, sdxl=False, discard=False):
    """What the command prints for this job: the package's one img2img plan (itself checked
    against the WebUI's reference vectors and the step-count properties in test_steps.py)."""
    sampler = "DPM2" if discard else "Euler"  # DPM2 discards the penultimate sigma
    plan = plan_img2img(name, steps, denoise, full_steps, table.cpu(), sampler=sampler, sdxl=sdxl)
    return plan.sigmas


def run(host, p, chosen):
    return host.webui.run_job(p, chosen)


# ---------------------------------------------------------------------------------------------
# The resize


@pytest.mark.parametrize("method", list(METHODS))
def test_each_method_replaces_the_hosts_bilinear(host, method):
    p = host.img2img(SIZE)
    run(host, p, settings(host, method))
    want = upscale(encoded(p), TARGET, method)
    torch.testing.assert_close(p.init_latent, want, rtol=0, atol=0)
    assert p.init_latent.shape == (1, 4, *TARGET)


def test_without_the_script_the_host_resizes_bilinearly(host):
    p = host.img2img(SIZE)
    host.processing.process_images(p)
    want = torch.nn.functional.interpolate(encoded(p), size=TARGET, mode="bilinear")
    assert torch.equal(p.init_latent, want)


def test_a_masked_job_leaves_the_hosts_mask_work_to_the_host(host, monkeypatch):
    """With a mask the host's init runs at the picture's own size, where its latent mask and
    conditioning mask (default-mode interpolates) agree; the latent and the mask then follow to
    the requested size, the latent by the chosen method."""
    calls = []
    real = torch.nn.functional.interpolate

    def spy(x, *args, **kwargs):
        calls.append((tuple(x.shape), kwargs.get("size"), kwargs.get("mode", "nearest")))
        return real(x, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "interpolate", spy)
    mask = np.zeros(SIZE, dtype=np.float32)
    mask[:, 24:] = 1.0
    p = host.img2img(SIZE, image_mask=mask)
    run(host, p, settings(host, "bislerp"))
    assert torch.nn.functional.interpolate is spy  # restored to what was there before
    source = (SIZE[0] // 8, SIZE[1] // 8)
    nearest = [size for shape, size, mode in calls if mode == "nearest" and shape[1] == 1]
    assert nearest == [source, source]  # the host's latent mask and conditioning mask
    assert p.conditioning_mask.shape[-2:] == source
    assert torch.equal(p.init_latent, upscale(encoded(p), TARGET, "bislerp"))
    assert p.mask.shape == (4, *TARGET)
    assert torch.equal(p.nmask[0], (p.nmask[0] > 0.5).float())  # mask_round still applied
    assert torch.equal(p.nmask[:, :, :5], torch.zeros(4, 9, 5))  # the left part is kept


def test_a_host_without_the_resize_call_fails_clearly(host, monkeypatch):
    monkeypatch.setattr(host.processing, "RESIZE_INTERPOLATION", "bicubic")
    p = host.img2img(SIZE)
    with pytest.raises(RuntimeError, match="made no latent resize call"):
        run(host, p, settings(host))
    assert torch.nn.functional.interpolate.__module__ == "torch.nn.functional"


def test_other_resize_modes_keep_the_host_resize_and_say_so(host):
    p = host.img2img(SIZE, resize_mode=0)
    processed = run(host, p, settings(host, "bislerp", "karras"))
    assert any("not 'Just resize (latent upscale)'" in c for c in p.comments)
    assert "Latent upscale method" not in processed.infotexts[0]
    assert "Latent upscale scheduler: karras" in processed.infotexts[0]
    table = p.sampler.model_wrap.sigmas
    torch.testing.assert_close(
        processed.sampler_runs[0]["sigmas"], expected_sigmas("karras", 20, 0.5, True, table)
    )


# ---------------------------------------------------------------------------------------------
# The schedule and the steps


@pytest.mark.parametrize("full_steps", [True, False], ids=["full", "webui-rule"])
@pytest.mark.parametrize("name", [n for n in SCHEDULES if n != "automatic"])
def test_each_schedule_reaches_the_sampler_with_the_webui_slice(host, name, full_steps):
    p = host.img2img(SIZE, steps=12, denoising_strength=0.4)
    processed = run(host, p, settings(host, "area", name, full_steps))
    ran = processed.sampler_runs[0]
    total, t_enc = img2img_steps(12, 0.4, full_steps)
    assert (ran["total"], ran["t_enc"]) == (total, t_enc)
    want = expected_sigmas(name, 12, 0.4, full_steps, p.sampler.model_wrap.sigmas)
    torch.testing.assert_close(ran["sigmas"], want, rtol=2e-6, atol=1e-7)
    assert ran["sigmas"].dtype == torch.float32
    # and, independently of the plan: the step count the rule promises, sigmas going down
    steps_run = ran["sigmas"].numel() - 1
    if full_steps:
        assert steps_run == 12  # exactly the slider
    elif name not in ("ddim_uniform", "beta_comfyui"):  # their grids are longer / merged
        assert steps_run == int(0.4 * 12) + 1  # the WebUI's rule: t_enc + 1
    assert bool((ran["sigmas"][:-1] > ran["sigmas"][1:]).all())


@pytest.mark.parametrize("name", ["automatic", "simple", "ddim_uniform", "beta_comfyui"])
def test_denoise_zero_follows_the_webui_rule_even_with_full_steps(host, name):
    # full steps at denoise 0 would ask for a 0-step schedule (the host's own schedules divide
    # by zero there): the WebUI's own rule runs instead, one step at the bottom of the schedule
    p = host.img2img(SIZE, steps=10, denoising_strength=0.0)
    processed = run(host, p, settings(host, "bislerp", name, full_steps=True))
    ran = processed.sampler_runs[0]
    assert (ran["total"], ran["t_enc"]) == img2img_steps(10, 0.0, False) == (10, 0)
    if name != "automatic":
        want = expected_sigmas(name, 10, 0.0, False, p.sampler.model_wrap.sigmas)
        torch.testing.assert_close(ran["sigmas"], want, rtol=2e-6, atol=1e-7)
    assert torch.equal(ran["x"], upscale(encoded(p), TARGET, "bislerp"))
    assert "Latent upscale full steps: False" in processed.infotexts[0]  # what ran


@pytest.mark.parametrize("name", ["ddim_uniform", "beta_comfyui"])
@pytest.mark.parametrize("denoise", [0.2, 0.004])
def test_full_steps_run_the_slider_for_schedules_of_other_lengths(host, name, denoise):
    # DDIM's index grid has more than total + 1 sigmas (at total 150: 168), ComfyUI's Beta
    # fewer (repeated timesteps merged above ~138): the slider's 30 steps still run, the
    # schedule's last 31 sigmas, as in ComfyUI's KSampler
    p = host.img2img(SIZE, steps=30, denoising_strength=denoise)
    ran = run(host, p, settings(host, "area", name, full_steps=True)).sampler_runs[0]
    total = img2img_steps(30, denoise, True)[0]
    full = get_sigmas(name, total, p.sampler.model_wrap.sigmas)
    assert full.numel() != total + 1  # the case this test is about
    torch.testing.assert_close(ran["sigmas"], full[-31:], rtol=0, atol=0)
    assert "Schedule type" not in p.extra_generation_params


def test_a_schedule_shorter_than_the_slice_runs_all_it_has(host):
    # ComfyUI's Beta at 1500 steps keeps about a thousand distinct sigmas: all of them run
    # (no repeated sigma, a zero-size step, ever enters the slice)
    p = host.img2img(SIZE, steps=1500, denoising_strength=1.0)
    ran = run(host, p, settings(host, "area", "beta_comfyui", full_steps=False)).sampler_runs[0]
    full = get_sigmas("beta_comfyui", 1500, p.sampler.model_wrap.sigmas)
    assert full.numel() < 1501
    torch.testing.assert_close(ran["sigmas"], full, rtol=0, atol=0)
    assert bool((ran["sigmas"][:-1] > ran["sigmas"][1:]).all())


def test_full_steps_runs_exactly_the_slider(host):
    p = host.img2img(SIZE, steps=10, denoising_strength=0.3)
    full = run(host, p, settings(host, full_steps=True)).sampler_runs[0]
    assert (full["total"], full["t_enc"], len(full["sigmas"]) - 1) == (33, 9, 10)
    rule = run(host, p, settings(host, full_steps=False)).sampler_runs[0]
    assert (rule["total"], rule["t_enc"], len(rule["sigmas"]) - 1) == (10, 3, 4)


@pytest.mark.parametrize("name", ["karras", "beta_comfyui"])  # host schedule / our override
def test_discard_penultimate_samplers_get_one_more_step(host, name):
    p = host.img2img(SIZE, steps=10, denoising_strength=0.5, sampler_name="DPM2")
    ran = run(host, p, settings(host, scheduler=name)).sampler_runs[0]
    want = expected_sigmas(name, 10, 0.5, True, p.sampler.model_wrap.sigmas, discard=True)
    torch.testing.assert_close(ran["sigmas"], want, rtol=2e-6, atol=1e-7)


def test_automatic_keeps_the_hosts_own_schedule(host):
    kwargs = {"steps": 10, "denoising_strength": 0.5, "sampler_name": "DPM++ 2M"}
    if host.shape.schedulers is not None:
        kwargs["scheduler"] = "Exponential"
    plain = host.processing.process_images(host.img2img(SIZE, **kwargs)).sampler_runs[0]
    p = host.img2img(SIZE, **kwargs)
    ours = run(host, p, settings(host, scheduler="automatic", full_steps=False))
    assert torch.equal(ours.sampler_runs[0]["sigmas"], plain["sigmas"])
    assert "Latent upscale scheduler: automatic" in ours.infotexts[0]
    if host.shape.schedulers is not None:
        assert "Schedule type: Exponential" in ours.infotexts[0]


def test_automatic_never_installs_an_override(host, monkeypatch):
    """Not even on a p whose previous job ran our override: the sampler sees the user's own."""
    user = "Exponential" if host.shape.schedulers is not None else None
    p = host.img2img(SIZE, steps=6, denoising_strength=0.5, sampler_name="DPM++ 2M")
    if user:
        p.scheduler = user
    run(host, p, settings(host, scheduler="beta_comfyui"))
    seen = []

    def on_step(q, i):
        seen.append((q.sampler_noise_scheduler_override, getattr(q, "scheduler", None)))

    monkeypatch.setattr(host.shared.state, "on_step", on_step)
    run(host, p, settings(host, scheduler="automatic"))
    assert seen
    assert all(entry == (None, user) for entry in seen)


@pytest.mark.parametrize("name", ["normal", "sgm_uniform"])
def test_a_half_models_float16_table_is_read_as_it_is(monkeypatch, name):
    """A1111 < 1.8 keeps a half model's table in float16; the schedule reads that table."""
    host = install_host(monkeypatch, "a1111-1.7")
    model = host.processing.StubModel()
    model.alphas_cumprod = model.alphas_cumprod.half()
    p = host.img2img(SIZE, model=model, steps=10, denoising_strength=1.0)
    ran = run(host, p, settings(host, scheduler=name)).sampler_runs[0]
    table = p.sampler.model_wrap.sigmas
    assert table.dtype == torch.float16
    total, t_enc = img2img_steps(10, 1.0, True)
    want = get_sigmas(name, total, table)[total - t_enc - 1 :]
    assert torch.equal(ran["sigmas"], want)
    assert not torch.equal(want, get_sigmas(name, total, table.float())[total - t_enc - 1 :])


@pytest.mark.parametrize("sampler", ["DDIM", "PLMS", "UniPC"])
def test_timestep_samplers_say_the_schedule_is_ignored(host, sampler):
    p = host.img2img(SIZE, steps=10, denoising_strength=0.5, sampler_name=sampler)
    processed = run(host, p, settings(host, scheduler="karras"))
    assert any("ignores custom schedules" in c for c in p.comments)
    assert "Latent upscale scheduler: automatic" in processed.infotexts[0]
    assert "Schedule type: Karras" not in processed.infotexts[0]
    ran = processed.sampler_runs[0]
    assert (ran["total"], ran["t_enc"]) == (20, 9)  # full steps still apply
    assert p.sampler_noise_scheduler_override is None


def test_the_override_uses_the_jobs_own_table_on_forge(monkeypatch):
    host = install_host(monkeypatch, "forge")
    p = host.img2img(SIZE, steps=30, denoising_strength=1.0)
    ran = run(host, p, settings(host, scheduler="beta_comfyui")).sampler_runs[0]
    forge_table = p.sd_model.forge_objects.unet.model.predictor.sigmas
    assert torch.equal(ran["sigmas"], expected_sigmas("beta_comfyui", 30, 1.0, True, forge_table))
    a1111_table = host.modules.sd_samplers_kdiffusion.CompVisDenoiser(p.sd_model).sigmas
    assert not torch.equal(forge_table, a1111_table)


def test_sdxl_models_get_the_sdxl_tables(host):
    model = host.processing.StubModel(is_sdxl=True)
    p = host.img2img(SIZE, model=model, steps=10, denoising_strength=1.0)
    ran = run(host, p, settings(host, scheduler="align_your_steps_comfyui")).sampler_runs[0]
    table = p.sampler.model_wrap.sigmas
    want = expected_sigmas("align_your_steps_comfyui", 10, 1.0, True, table, sdxl=True)
    torch.testing.assert_close(ran["sigmas"], want)
    sd1 = expected_sigmas("align_your_steps_comfyui", 10, 1.0, True, table, sdxl=False)
    assert not torch.allclose(ran["sigmas"], sd1)


@pytest.mark.parametrize("shape", ["a1111-1.10", "forge"])
def test_16_channel_v_prediction_latents(monkeypatch, shape):
    host = install_host(monkeypatch, shape)
    model = host.processing.StubModel(channels=16, parameterization="v")
    mask = np.ones(SIZE, dtype=np.float32)
    p = host.img2img(SIZE, model=model, image_mask=mask, batch_size=2)
    processed = run(host, p, settings(host, "lanczos", "karras"))
    want = upscale(encoded(p), TARGET, "lanczos")
    assert torch.equal(p.init_latent, want)
    assert p.mask.shape == (16, *TARGET)
    assert len(processed.images) == 2


def test_batch_size_and_count(host):
    p = host.img2img(SIZE, batch_size=2, n_iter=3)
    processed = run(host, p, settings(host, "bicubic"))
    assert len(processed.images) == 6
    assert all(img.shape == (4, *TARGET) for img in processed.images)
    assert len(processed.sampler_runs) == 3
    want = upscale(encoded(p), TARGET, "bicubic")
    assert torch.equal(p.init_latent, want)


def test_schedule_override_contract(host):
    p = host.img2img(SIZE)
    host.processing.process_images(p)  # a sampler and its model_wrap
    override = host.webui.ScheduleOverride("karras", p.sampler.model_wrap)
    sigmas = override(15)
    assert sigmas.shape == (16,)
    assert sigmas[-1] == 0
    assert sigmas.dtype == torch.float32
    assert sigmas.device == p.sampler.model_wrap.sigmas.device
    assert torch.equal(override(0).cpu(), torch.zeros(1))
    assert torch.equal(override(-3).cpu(), torch.zeros(1))


@pytest.mark.parametrize("name", ["karras", "beta_comfyui", "automatic"])
def test_sigmas_live_where_the_hosts_own_schedules_do(host, name):
    """<= 1.9 make schedules on the model's device, 1.10+ and Forge on the CPU."""
    plain = host.processing.process_images(host.img2img(SIZE)).sampler_runs[0]
    ours = run(host, host.img2img(SIZE), settings(host, scheduler=name)).sampler_runs[0]
    assert ours["sigmas_device"] == plain["sigmas_device"]


# ---------------------------------------------------------------------------------------------
# Jobs and copies


def test_copies_of_p_use_their_own_settings_and_model(host):
    p = host.img2img(SIZE, steps=10, denoising_strength=0.5)
    setattr(p, host.webui.ATTR, settings(host, "bislerp", "kl_optimal_comfyui"))
    pc = copy(p)
    pc.sd_model = host.processing.StubModel(table_power=1.3)
    setattr(pc, host.webui.ATTR, settings(host, "area", "kl_optimal_comfyui"))
    ran_c = host.processing.process_images(pc).sampler_runs[0]
    ran_p = host.processing.process_images(p).sampler_runs[0]
    assert torch.equal(pc.init_latent, upscale(encoded(pc), TARGET, "area"))
    assert torch.equal(p.init_latent, upscale(encoded(p), TARGET, "bislerp"))
    table_c, table_p = pc.sampler.model_wrap.sigmas, p.sampler.model_wrap.sigmas
    assert not torch.equal(table_c, table_p)
    for ran, table in ((ran_c, table_c), (ran_p, table_p)):
        want = expected_sigmas("kl_optimal_comfyui", 10, 0.5, True, table)
        torch.testing.assert_close(ran["sigmas"], want)


def test_repeated_runs_on_one_p_are_idempotent(host):
    user_scheduler = "Karras" if host.shape.schedulers is not None else None
    p = host.img2img(SIZE, steps=8)
    if user_scheduler:
        p.scheduler = user_scheduler
    extra = p.extra_generation_params
    opts_before = dict(host.shared.opts.data)
    results = [
        run(host, p, settings(host, "bislerp", name))
        for name in ("simple", "simple", "beta_comfyui", "simple")
    ]
    assert results[0].infotexts == results[1].infotexts == results[3].infotexts
    assert torch.equal(results[0].images[0], results[3].images[0])
    assert torch.equal(results[0].sampler_runs[0]["sigmas"], results[1].sampler_runs[0]["sigmas"])
    assert p.sampler_noise_scheduler_override is None
    assert getattr(p, "scheduler", None) == user_scheduler
    assert p.extra_generation_params is extra
    assert not any(k.startswith("Latent upscale") for k in extra)
    assert not hasattr(p, host.webui.ATTR)
    assert host.shared.opts.data == opts_before  # opts are frozen in the stub: never written


def _job_results(host, **kwargs):
    p = host.img2img(SIZE, steps=8, denoising_strength=0.6, **kwargs)
    processed = host.processing.process_images(p)
    return p.init_latent, processed.sampler_runs[0]["sigmas"], processed.images[0], processed.info


@pytest.mark.parametrize("failure", ["exception", "interrupt", "init-exception"])
def test_nothing_is_left_behind_after_a_failed_job(monkeypatch, failure):
    for shape in shape_params():
        with monkeypatch.context() as mp:
            baseline = _job_results(install_host(mp, shape, extension=False))
        with monkeypatch.context() as mp:
            host = install_host(mp, shape)
            p = host.img2img(SIZE, steps=8, denoising_strength=0.6)
            if failure == "init-exception":
                p.image_mask = np.zeros((2, 2, 2, 2), dtype=np.float32)  # fails after the resize
            else:

                def on_step(_p, i, failure=failure, state=host.shared.state):
                    if i == 2:
                        if failure == "exception":
                            raise RuntimeError("sampler failed")
                        state.interrupt()

                host.shared.state.on_step = on_step
            if failure == "interrupt":
                run(host, p, settings(host, "bislerp", "beta_comfyui"))
            else:
                with pytest.raises((RuntimeError, ValueError)):
                    run(host, p, settings(host, "bislerp", "beta_comfyui"))
            host.shared.state.on_step = None
            host.shared.state.interrupted = False
            assert p.sampler_noise_scheduler_override is None
            after = _job_results(host)
        assert_same(baseline, after, shape)


def test_a_job_without_the_script_is_unaffected(monkeypatch):
    for shape in shape_params():
        with monkeypatch.context() as mp:
            baseline = _job_results(install_host(mp, shape, extension=False), sampler_name="DPM2")
        with monkeypatch.context() as mp:
            host = install_host(mp, shape)
            run(host, host.img2img(SIZE), settings(host, "lanczos", "karras"))
            after = _job_results(host, sampler_name="DPM2")
        assert_same(baseline, after)


def test_all_stub_shapes_run(monkeypatch):
    """Every shape the stub knows (1.7, 1.8, 1.9, 1.10, Forge) runs a job end to end."""
    for shape in SHAPES:
        with monkeypatch.context() as mp:
            host = install_host(mp, shape)
            p = host.img2img(SIZE)
            processed = run(host, p, settings(host, "bislerp", "karras"))
            assert "Latent upscale method: bislerp" in processed.info
