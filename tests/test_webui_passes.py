"""Upscale by a factor in several latent passes, on the stub hosts: sizes, schedules, noise,
progress, interrupts, failures, masks and the surfaces (infotext, X/Y/Z, API)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from latent_upscale import plan_img2img, upscale
from tests.webui_stub import encoded, install_host

SIZE = (64, 48)  # init image (height, width)
STEPS = 6


def settings(host, method="bislerp", scheduler="karras", full_steps=True, **kwargs):
    return host.webui.Settings(method, scheduler, full_steps, **kwargs)


def nearest8(value):
    """The nearest multiple of 8 (halves up), written out for the tests."""
    low = int(value // 8) * 8
    return low + 8 if value - low >= 4 else max(low, 8)


def geometric(source, target, n):
    """Each pass's (width, height): source * (target / source) ** (k / n), the last exact."""
    (w0, h0), (w1, h1) = source, target
    sizes = [
        (nearest8(w0 * (w1 / w0) ** (k / n)), nearest8(h0 * (h1 / h0) ** (k / n)))
        for k in range(1, n)
    ]
    return [*sizes, (w1, h1)]


class Outputs:
    """What each ``sample_img2img`` call of the job returned (the sampler's own result)."""

    def __init__(self, host, monkeypatch):
        self.returned = []
        cls = host.modules.sd_samplers_kdiffusion.KDiffusionSampler
        original = cls.sample_img2img

        def spy(sampler, p, x, *args, **kwargs):
            result = original(sampler, p, x, *args, **kwargs)
            self.returned.append(result.detach().clone())
            return result

        monkeypatch.setattr(cls, "sample_img2img", spy)


def job(host, **kwargs):
    kwargs = {"steps": STEPS, "denoising_strength": 0.5, **kwargs}
    return host.img2img(SIZE, **kwargs)


# ---------------------------------------------------------------------------------------------
# Sizes, resizes and schedules


@pytest.mark.parametrize("passes", [1, 2, 3])
def test_each_pass_resizes_the_previous_result_and_runs_its_own_schedule(host, monkeypatch, passes):
    outputs = Outputs(host, monkeypatch)
    p = job(host)
    processed = host.webui.run_job(p, settings(host, scale=2.0, passes=passes, later_denoise=0.3))
    runs = processed.sampler_runs
    sizes = geometric((48, 64), (96, 128), passes)
    assert [(r["width"], r["height"]) for r in runs] == sizes
    assert [r["denoise"] for r in runs] == [0.5] + [0.3] * (passes - 1)
    table = p.sampler.model_wrap.sigmas.cpu()
    previous = encoded(p)
    for run, returned, (w, h) in zip(runs, outputs.returned, sizes, strict=True):
        assert run["x"].shape == (1, 4, h // 8, w // 8)
        assert torch.equal(run["x"], upscale(previous, (h // 8, w // 8), "bislerp"))
        plan = plan_img2img("karras", STEPS, run["denoise"], True, table)
        assert torch.equal(run["sigmas"], plan.sigmas)
        assert len(run["sigmas"]) - 1 == STEPS  # full steps in every pass
        previous = returned
    assert processed.images[0].shape == (4, 16, 12)  # the last pass's result, decoded once
    assert "Size: 96x128" in processed.info
    assert (p.width, p.height) == (96, 72)  # the user's fields afterwards


def test_two_x_in_two_passes_from_512_is_728_then_1024(monkeypatch):
    host = install_host(monkeypatch, "a1111-1.10")
    p = host.img2img((512, 512), steps=2, denoising_strength=0.5)
    processed = host.webui.run_job(p, settings(host, "nearest-exact", "simple", scale=2, passes=2))
    assert [(r["width"], r["height"]) for r in processed.sampler_runs] == [(728, 728), (1024, 1024)]


def test_upscale_by_in_one_pass_is_the_job_at_that_size(host):
    scaled = host.webui.run_job(job(host), settings(host, scale=1.5))
    p = job(host, width=72, height=96)  # 48 x 1.5, 64 x 1.5: multiples of 8 already
    direct = host.webui.run_job(p, settings(host))
    assert torch.equal(scaled.images[0], direct.images[0])
    assert torch.equal(scaled.sampler_runs[0]["sigmas"], direct.sampler_runs[0]["sigmas"])
    assert "Size: 72x96" in scaled.info
    assert scaled.info.replace("Latent upscale by: 1.5, ", "") == direct.info


def test_passes_without_upscale_by_go_to_the_jobs_width_and_height(host):
    processed = host.webui.run_job(job(host, width=80, height=104), settings(host, passes=2))
    sizes = [(r["width"], r["height"]) for r in processed.sampler_runs]
    assert sizes == geometric((48, 64), (80, 104), 2)
    assert "Size: 80x104" in processed.info


def test_upscale_by_rounds_to_multiples_of_eight(host):
    processed = host.webui.run_job(job(host), settings(host, scale=1.3))
    # 48 x 1.3 = 62.4 -> 64; 64 x 1.3 = 83.2 -> 80
    assert [(r["width"], r["height"]) for r in processed.sampler_runs] == [(64, 80)]


def test_a_job_without_the_new_options_is_unchanged(host):
    """Scale 0 and one pass without a mask: the one-pass path, one sampler, the host's noise."""
    p = job(host)
    plain = host.webui.run_job(p, settings(host))
    assert len(plain.sampler_runs) == 1
    assert "Latent upscale by" not in plain.info
    assert "Latent upscale passes" not in plain.info
    assert torch.equal(plain.sampler_runs[0]["x"], upscale(encoded(p), (9, 12), "bislerp"))


# ---------------------------------------------------------------------------------------------
# Seeds, progress, interrupts, failures


def test_every_pass_draws_the_hosts_noise_from_the_jobs_seeds(host):
    p = job(host, batch_size=2, seed=11)
    processed = host.webui.run_job(p, settings(host, scale=2, passes=2))
    for run in processed.sampler_runs:
        shape = tuple(run["x"].shape[1:])
        want = host.modules.rng.ImageRNG(shape, [11, 12]).next()
        assert torch.equal(run["noise"], want)
    again = host.webui.run_job(job(host, batch_size=2, seed=11), settings(host, scale=2, passes=2))
    assert torch.equal(processed.images[0], again.images[0])


def test_progress_counts_every_pass(host):
    p = job(host, n_iter=2)
    processed = host.webui.run_job(p, settings(host, scale=2, passes=3, later_denoise=0.25))
    state = host.shared.state
    assert state.job_count == 2 * 3
    assert [r["job_no"] for r in processed.sampler_runs] == [0, 1, 2, 3, 4, 5]
    assert all(r["job_count"] == 6 for r in processed.sampler_runs)
    assert host.shared.total_tqdm.total == 2 * (STEPS * 3)  # full steps: 6 per pass


def test_progress_with_the_webuis_step_rule(host):
    p = job(host, denoising_strength=0.5)
    host.webui.run_job(p, settings(host, full_steps=False, scale=2, passes=2, later_denoise=0.34))
    # steps x denoise, +1: int(0.5 * 6) + 1 = 4, int(0.34 * 6) + 1 = 3
    assert host.shared.total_tqdm.total == 4 + 3


def test_an_interrupt_in_pass_two_returns_the_requested_size_and_restores_p(host):
    state = host.shared.state
    calls = []

    second = geometric((48, 64), (96, 128), 3)[1][0]  # pass 2's width (48 -> 64 -> 80 -> 96)

    def on_step(p, step):
        calls.append((p.width, step))
        if p.width == second and step == 1:
            state.interrupted = True

    state.on_step = on_step
    p = job(host)
    processed = host.webui.run_job(p, settings(host, scale=2, passes=3))
    assert len(processed.sampler_runs) == 2  # no third pass
    assert processed.images[0].shape == (4, 16, 12)  # still the size asked for
    assert (p.width, p.height, p.denoising_strength) == (96, 72, 0.5)
    assert not hasattr(p, host.webui.ATTR)
    assert p.sampler_noise_scheduler_override is None


def test_a_failure_in_a_later_pass_leaves_nothing_behind(host, monkeypatch):
    cls = host.modules.sd_samplers_kdiffusion.KDiffusionSampler
    original = cls.sample_img2img

    def failing(sampler, p, x, *args, **kwargs):
        if x.shape[-1] > 8:  # pass 2
            raise RuntimeError("out of memory in pass 2")
        return original(sampler, p, x, *args, **kwargs)

    monkeypatch.setattr(cls, "sample_img2img", failing)
    p = job(host)
    extra = dict(p.extra_generation_params)
    with pytest.raises(RuntimeError, match="pass 2"):
        host.webui.run_job(p, settings(host, scale=2, passes=2))
    assert (p.width, p.height, p.denoising_strength) == (96, 72, 0.5)
    assert p.extra_generation_params == {**extra, "Denoising strength": 0.5}
    assert not hasattr(p, host.webui.ATTR)
    assert p.sampler_noise_scheduler_override is None
    assert torch.nn.functional.interpolate.__module__ == "torch.nn.functional"
    monkeypatch.setattr(cls, "sample_img2img", original)
    plain = host.processing.process_images(job(host))  # the next job is the host's own
    assert len(plain.sampler_runs) == 1


def test_limits_are_checked_for_later_passes_before_any_work(host):
    p = job(host, steps=150)
    with pytest.raises(ValueError, match="limit"):
        host.webui.run_job(p, settings(host, passes=2, later_denoise=0.01))
    assert p.init_latent is None  # nothing was encoded


def test_a_host_without_imagerng_refuses_passes_and_runs_plain_jobs(host, monkeypatch):
    monkeypatch.delattr(host.modules.rng, "ImageRNG")
    with pytest.raises(RuntimeError, match=r"lacks modules\.rng\.ImageRNG"):
        host.webui.run_job(job(host), settings(host, scale=2))
    assert len(host.webui.run_job(job(host), settings(host)).sampler_runs) == 1


def test_other_resize_modes_say_that_passes_need_the_latent_mode(host):
    p = job(host, resize_mode=0)
    processed = host.webui.run_job(p, settings(host, scale=2, passes=2))
    assert len(processed.sampler_runs) == 1
    assert "apply only with resize mode" in processed.comments
    assert "Latent upscale by" not in processed.info  # the infotext says what ran
    assert "Latent upscale passes" not in processed.info


# ---------------------------------------------------------------------------------------------
# Masks


def half_mask(size=SIZE):
    mask = np.zeros(size, dtype=np.float32)
    mask[:, size[1] // 2 :] = 255.0  # the right half is redrawn
    return mask


@pytest.mark.parametrize("passes", [1, 2])
def test_a_masked_job_returns_the_requested_size_and_keeps_the_unmasked_picture(host, passes):
    p = job(host, image_mask=half_mask())
    processed = host.webui.run_job(p, settings(host, scale=2, passes=passes))
    pixels = processed.pixels[0]
    assert pixels.shape[:2] == (128, 96)
    original = np.asarray(p.init_images[0], dtype=np.float32)
    want = np.asarray(
        torch.nn.functional.interpolate(
            torch.from_numpy(original).permute(2, 0, 1)[None], size=(128, 96), mode="bicubic",
            antialias=True,
        )[0].permute(1, 2, 0)
    )  # fmt: skip
    left = slice(0, 40)  # away from the mask's edge at x = 48
    assert np.abs(pixels[:, left] - want[:, left]).max() < 0.06  # Lanczos vs bicubic
    assert np.abs(pixels[:, 60:] - want[:, 60:]).max() > 0.1  # the masked half was redrawn
    for run in processed.sampler_runs:
        h, w = run["x"].shape[-2:]
        assert run["mask"].shape[-2:] == (h, w)  # the latent mask follows each pass
        assert torch.equal(run["mask"][0, :, : w // 2 - 1], torch.zeros(h, w // 2 - 1))


def test_only_masked_places_the_redrawn_box_into_the_upscaled_picture(host):
    mask = np.zeros(SIZE, dtype=np.float32)
    mask[16:40, 24:40] = 255.0
    p = job(host, image_mask=mask, inpaint_full_res=True, inpaint_full_res_padding=4)
    processed = host.webui.run_job(p, settings(host, scale=2, passes=2))
    assert processed.pixels[0].shape[:2] == (128, 96)
    x, y, w, h = p.paste_to
    assert (x % 2, y % 2, w % 2, h % 2) == (0, 0, 0, 0)  # the host's box, doubled


def test_an_inpainting_models_conditioning_follows_every_pass(host):
    model = host.processing.StubModel(inpainting=True)
    p = job(host, model=model, image_mask=half_mask())
    processed = host.webui.run_job(p, settings(host, scale=2, passes=2))
    for run in processed.sampler_runs:
        assert run["image_conditioning"].shape[-2:] == run["x"].shape[-2:]
        assert run["image_conditioning"].shape[1] == 5


# ---------------------------------------------------------------------------------------------
# Surfaces


def test_infotext_keys_round_trip_through_paste(host):
    from tests.test_webui_script import infotext_module, script_args

    args = ("Bislerp", "Karras", True, 1.5, 2, 0.3)
    processed = host.runner.run(job(host), *script_args(host, *args))
    info = processed.infotexts[0]
    assert "Latent upscale by: 1.5" in info
    assert "Latent upscale passes: 2" in info
    assert "Latent upscale later denoise: 0.3" in info
    pasted = infotext_module(host).paste(host.script.infotext_fields, info)
    assert pasted == list(args)
    again = host.runner.run(job(host), *script_args(host, *pasted))
    assert again.infotexts == processed.infotexts


def test_api_defaults_fill_missing_pass_arguments(host):
    from tests.test_webui_script import script_args

    processed = host.runner.run(job(host), *script_args(host, "area", None, None, 2))
    assert "Latent upscale by: 2" in processed.info
    assert len(processed.sampler_runs) == 1  # one pass, the default


@pytest.mark.parametrize(
    ("axis", "values", "sizes"),
    [
        ("[Latent Upscale] Upscale by", ["1.5", "2"], [[(72, 96)], [(96, 128)]]),
        ("[Latent Upscale] Passes", ["1", "2"], [[(96, 72)], geometric((48, 64), (96, 72), 2)]),
    ],
)
def test_xyz_axes_for_the_pass_options(host, axis, values, sizes):
    from tests.test_webui_script import xyz_script

    p = job(host, width=96, height=72)
    cells = xyz_script(host).run(p, axis, values)
    assert [[(r["width"], r["height"]) for r in c.sampler_runs] for c in cells] == sizes


def test_xyz_later_denoise_axis(host):
    from tests.test_webui_script import xyz_script

    p = job(host, width=96, height=72)
    cells = xyz_script(host).run(p, "[Latent Upscale] Later denoise", ["0.2"])
    assert "Latent upscale later denoise" not in cells[0].info  # one pass: not used, not written
    with pytest.raises(ValueError, match="later passes' denoise"):
        xyz_script(host).run(p, "[Latent Upscale] Later denoise", ["1.5"])


def test_geometric_helper_matches_the_issue_example():
    assert geometric((512, 512), (1024, 1024), 2) == [(728, 728), (1024, 1024)]
    assert math.isclose(728 / 512, 2**0.5, rel_tol=0.03)


def test_a_model_with_its_own_size_rule_gets_every_pass_size_through_it(host):
    """SD3 on A1111 1.10 rounds sizes to 16 (``fix_dimensions``): each pass's size too."""
    model = host.processing.StubModel(channels=16)
    model.fix_dimensions = lambda w, h: (w // 16 * 16, h // 16 * 16)
    processed = host.webui.run_job(job(host, model=model), settings(host, scale=2, passes=3))
    sizes = [(r["width"], r["height"]) for r in processed.sampler_runs]
    want = [(w // 16 * 16, h // 16 * 16) for w, h in geometric((48, 64), (96, 128), 3)]
    assert sizes == want
    assert all(r["x"].shape[1] == 16 for r in processed.sampler_runs)


@pytest.mark.parametrize("mask", [None, "half"])
def test_every_batch_of_a_job_starts_from_the_hosts_init(host, mask):
    p = job(host, n_iter=2, image_mask=half_mask() if mask else None)
    processed = host.webui.run_job(p, settings(host, scale=2, passes=2))
    runs = processed.sampler_runs
    assert len(runs) == 4
    assert torch.equal(runs[2]["x"], runs[0]["x"])  # batch 2's pass 1 input = batch 1's
    assert not torch.equal(runs[2]["noise"], runs[0]["noise"])  # its own seed
    assert len(processed.images) == 2


@pytest.mark.parametrize("full_res", [False, True])
def test_a_masked_job_at_the_pictures_own_size_is_the_hosts_own(host, full_res):
    """No scale, one pass, width and height the picture's: what the WebUI does by itself."""
    kwargs = {"image_mask": half_mask(), "width": 48, "height": 64, "inpaint_full_res": full_res}
    plain = host.processing.process_images(job(host, **kwargs))
    ours = host.webui.run_job(job(host, **kwargs), settings(host, "bicubic", "automatic", False))
    assert torch.equal(ours.images[0], plain.images[0])
    assert np.array_equal(ours.pixels[0], plain.pixels[0])


def test_skip_in_pass_one_skips_that_images_later_passes_only(host):
    state = host.shared.state
    first = geometric((48, 64), (96, 128), 2)[0][0]
    seen = []

    def on_step(p, step):
        if p.width == first and step == 1 and not seen:
            seen.append(step)
            state.skipped = True

    state.on_step = on_step
    processed = host.webui.run_job(job(host, n_iter=2), settings(host, scale=2, passes=2))
    widths = [r["width"] for r in processed.sampler_runs]
    assert widths == [first, first, 96]  # image 1: pass 1 only; image 2: both passes
    assert [img.shape for img in processed.images] == [(4, 16, 12), (4, 16, 12)]
