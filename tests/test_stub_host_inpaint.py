"""The stub WebUI's own img2img masks, noise, overlays and job counters (A1111 1.10.1 rules).

Every expected value here is worked out by hand from the hosts' rules (the derivations are in
the comments) or recomputed with plain torch: the fake VAE's decode is sigmoid(latent . mix)
repeated over 8x8 pixels, and the hosts' noise (CPU source) is one torch generator per seed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch


def picture(height, width):
    """A deterministic [0, 1] picture with no flat areas."""
    yy, xx = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return np.stack(
        [(yy * 5 + xx * 3) % 29 / 28, (xx * 7 + yy) % 13 / 12, (yy * xx) % 19 / 18], -1
    ).astype(np.float32)


def decoded(model, latent):
    """The fake VAE's decode, written out: HxWx3 in [0, 1]."""
    mix = model.mix.cpu()
    image = torch.einsum("chw,ck->khw", latent.float().cpu(), mix).sigmoid()
    image = image.repeat_interleave(8, dim=1).repeat_interleave(8, dim=2)
    return image.permute(1, 2, 0).numpy()


def seed_noise(seed, shape):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def right_half(height, width):
    mask = np.zeros((height, width), dtype=np.float32)
    mask[:, width // 2 :] = 1.0
    return mask


def job(host, size, **kwargs):
    height, width = size
    kwargs = {"width": width, "height": height, "steps": 6, "denoising_strength": 0.5, **kwargs}
    return host.img2img(size, image=picture(*size), **kwargs)


# ---------------------------------------------------------------------------------------------
# Whole picture


@pytest.mark.parametrize("resize_mode", [0, 3])
def test_a_masked_job_at_the_pictures_size_keeps_the_unmasked_pixels(host, resize_mode):
    size = (64, 48)
    mask = right_half(*size)
    p = job(host, size, image_mask=mask, resize_mode=resize_mode)
    processed = host.processing.process_images(p)
    pixels = processed.pixels[0]
    assert pixels.shape == (64, 48, 3)
    original = picture(*size)
    assert np.array_equal(pixels[:, :24], original[:, :24])  # unmasked: the original, exactly
    sample = decoded(p.sd_model, processed.images[0])
    np.testing.assert_allclose(pixels[:, 24:], sample[:, 24:], rtol=0, atol=1e-6)
    # the overlay: the original, transparent where the mask (brightened x2) is
    overlay = p.overlay_images[0]
    assert overlay.shape == (64, 48, 4)
    assert np.array_equal(overlay[..., 3], 1 - mask)
    assert np.array_equal(p.mask_for_overlay, mask)
    # the latent mask: the pixel mask at 8 x 6, on every channel
    want = torch.zeros(4, 8, 6)
    want[:, :, 3:] = 1
    assert torch.equal(p.nmask.cpu().float(), want)
    assert torch.equal(p.mask.cpu().float(), 1 - want)
    assert torch.equal(processed.sampler_runs[0]["mask"].cpu().float(), want)


def test_a_batch_repeats_the_overlay(host):
    p = job(host, (64, 48), image_mask=right_half(64, 48), batch_size=2)
    processed = host.processing.process_images(p)
    assert len(p.overlay_images) == 2
    assert len(processed.pixels) == 2


def test_brightened_mask_for_overlay_and_blur(host):
    mask = np.full((64, 48), 0.3, dtype=np.float32)
    p = job(host, (64, 48), image_mask=mask, resize_mode=0)
    host.processing.process_images(p)
    np.testing.assert_allclose(p.mask_for_overlay, 0.6, rtol=1e-6)
    p = job(host, (64, 48), image_mask=right_half(64, 48), mask_blur=4, resize_mode=0)
    processed = host.processing.process_images(p)
    assert "Mask blur: 4" in processed.info
    row = p.mask_for_overlay[10]
    assert 0 < row[23] < 1  # blurred across the edge
    assert row[0] == 0  # far from the edge: untouched (radius 2.5 x 4 + 0.5 -> 10 pixels)
    assert np.all(np.diff(row) >= 0)


def test_inverted_mask(host):
    p = job(host, (64, 48), image_mask=right_half(64, 48), inpainting_mask_invert=1)
    processed = host.processing.process_images(p)
    assert "Mask mode: Inpaint not masked" in processed.info
    assert np.array_equal(processed.pixels[0][:, 24:], picture(64, 48)[:, 24:])


def test_latent_fills_at_the_pictures_size(host):
    mask = right_half(64, 48)
    nothing = job(host, (64, 48), image_mask=mask, inpainting_fill=3)
    host.processing.process_images(nothing)
    assert torch.all(nothing.init_latent[..., 3:] == 0)
    assert torch.any(nothing.init_latent[..., :3] != 0)
    noise = job(host, (64, 48), image_mask=mask, inpainting_fill=2, seed=11)
    processed = host.processing.process_images(noise)
    assert "Masked content: latent noise" in processed.info
    want = seed_noise(11, (4, 8, 6))[..., 3:]
    torch.testing.assert_close(noise.init_latent[0, :, :, 3:].cpu().float(), want)


# ---------------------------------------------------------------------------------------------
# Resize mode 3 with a mask and a size change: what A1111 1.10.1 does
#
# A 64x64 picture asked at 96x96. Mode 3 never resizes the picture. The mask is resized to
# 96x96 ("resize and fill"; equal aspect: a plain resize), and that is the latent mask. The
# overlay mask is then resized back to the picture's 64x64 and the overlay made at 64x64.
# - fills 0, 2 and 3 all run masking.fill(picture, latent mask): PIL's paste of a 64x64 picture
#   with a 96x96 mask raises ValueError("images do not match");
# - fill 1 samples at 96x96 (latent 12x12) and decodes 96x96 pixels; the 64x64 overlay is then
#   alpha-composited with PIL's Image.alpha_composite *method*, which works on the overlap of
#   the two from the top-left corner: no error, the original covers the top-left 64x64 corner
#   where it is unmasked and the rest is the sample.


@pytest.mark.parametrize("fill", [0, 2, 3])
def test_mode_3_size_change_with_a_mask_fails_in_the_pixel_fill(host, fill):
    p = job(host, (64, 64), width=96, height=96, image_mask=right_half(64, 64))
    p.inpainting_fill = fill
    with pytest.raises(ValueError, match="images do not match"):
        host.processing.process_images(p)


def test_mode_3_size_change_with_a_mask_and_fill_original(host):
    p = job(host, (64, 64), width=96, height=96, image_mask=right_half(64, 64))
    processed = host.processing.process_images(p)
    pixels = processed.pixels[0]
    assert pixels.shape == (96, 96, 3)
    assert p.overlay_images[0].shape == (64, 64, 4)
    assert p.mask_for_overlay.shape == (64, 64)
    assert p.nmask.shape[-2:] == (12, 12)
    original = picture(64, 64)
    assert np.array_equal(pixels[:64, :28], original[:, :28])  # unmasked, away from the edge
    sample = decoded(p.sd_model, processed.images[0])
    np.testing.assert_allclose(pixels[64:], sample[64:], rtol=0, atol=1e-6)
    np.testing.assert_allclose(pixels[:, 64:], sample[:, 64:], rtol=0, atol=1e-6)


def test_mode_3_size_change_fails_for_an_inpainting_model(host):
    """The conditioning is built from the picture at its own size (64x64): with the 96x96
    mask the masked picture does not broadcast; without a mask the encoded 8x8 picture does
    not concatenate with the 12x12 mask."""
    model = host.processing.StubModel(inpainting=True)
    p = job(host, (64, 64), width=96, height=96, model=model, image_mask=right_half(64, 64))
    with pytest.raises(RuntimeError):
        host.processing.process_images(p)
    p = job(host, (64, 64), width=96, height=96, model=model)
    with pytest.raises(RuntimeError):
        host.processing.process_images(p)


def test_inpainting_conditioning_at_the_pictures_size(host):
    model = host.processing.StubModel(inpainting=True)
    mask = right_half(64, 48)
    p = job(host, (64, 48), model=model, image_mask=mask)
    processed = host.processing.process_images(p)
    cond = processed.sampler_runs[0]["image_conditioning"].cpu()
    assert cond.shape == (1, 5, 8, 6)
    want_mask = torch.zeros(8, 6)
    want_mask[:, 3:] = 1
    assert torch.equal(cond[0, 0], want_mask)
    # the masked picture in [-1, 1], encoded: 8x8 means of the [0, 1] image, mixed
    blanked = torch.from_numpy(picture(64, 48) * 2 - 1).permute(2, 0, 1) * (1 - torch.tensor(mask))
    pooled = torch.nn.functional.avg_pool2d(((blanked + 1) / 2)[None], 8)
    want = torch.einsum("bkhw,ck->bchw", pooled, model.mix.cpu())
    torch.testing.assert_close(cond[:, 1:], want)
    # ordinary models keep the dummy
    p = job(host, (64, 48), image_mask=mask)
    processed = host.processing.process_images(p)
    assert processed.sampler_runs[0]["image_conditioning"].shape == (1, 5, 1, 1)


def test_an_inpainting_sampler_refuses_conditioning_of_another_size(host):
    model = host.processing.StubModel(inpainting=True)
    p = job(host, (64, 48), model=model)
    p.init([""], [3], [3])
    sampler = p.sampler
    x = p.init_latent
    with pytest.raises(RuntimeError, match="does not fit"):
        sampler.sample_img2img(p, x, torch.zeros_like(x), None, None,
                               image_conditioning=torch.zeros(1, 5, 4, 4))  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Only masked


@pytest.mark.parametrize(
    ("rows", "cols", "padding", "box"),
    [
        # bbox (20, 10, 30, 40) + 4 = (16, 6, 34, 44): 18 x 38, narrower than 1:1, so the width
        # grows by int(38 - 18) = 20, 10 on each side: (6, 6, 44, 44)
        ((10, 40), (20, 30), 4, (6, 6, 38, 38)),
        # bbox (56, 0, 64, 40): grows by 32 to (40, 0, 80, 40), past the right edge by 16,
        # so it moves left: (24, 0, 64, 40)
        ((0, 40), (56, 64), 0, (24, 0, 40, 40)),
    ],
)
def test_only_masked_pastes_back_into_the_original_size(host, rows, cols, padding, box):
    mask = np.zeros((64, 64), dtype=np.float32)
    mask[rows[0] : rows[1], cols[0] : cols[1]] = 1
    p = job(host, (64, 64), image_mask=mask, inpaint_full_res=True,
            inpaint_full_res_padding=padding)  # fmt: skip
    processed = host.processing.process_images(p)
    assert p.paste_to == box
    assert "Inpaint area: Only masked" in processed.info
    assert p.mask_for_overlay.shape == (64, 64)  # the uncropped mask
    assert p.overlay_images[0].shape == (64, 64, 4)
    assert p.init_latent.shape[-2:] == (8, 8)  # the crop at the job's 64 x 64
    pixels = processed.pixels[0]
    assert pixels.shape == (64, 64, 3)
    original = picture(64, 64)
    keep = mask == 0
    assert np.array_equal(pixels[keep], original[keep])
    # inside the mask: the sample, resized from 64 x 64 to the box's size
    x, y, w, h = box
    sample = decoded(p.sd_model, processed.images[0])
    inside = sample[np.arange(h) * 64 // h][:, np.arange(w) * 64 // w]
    got = pixels[y : y + h, x : x + w]
    masked = mask[y : y + h, x : x + w] == 1
    np.testing.assert_allclose(got[masked], inside[masked], rtol=0, atol=1e-6)


def test_only_masked_with_a_blank_mask_runs_unmasked(host):
    p = job(host, (64, 48), image_mask=np.zeros((64, 48), np.float32), inpaint_full_res=True)
    processed = host.processing.process_images(p)
    assert p.mask is None
    assert p.nmask is None
    assert p.mask_for_overlay is None
    assert p.overlay_images == []
    assert not p.inpaint_full_res
    assert "blank" in processed.comments
    assert processed.sampler_runs[0]["mask"] is None


# ---------------------------------------------------------------------------------------------
# Noise


def test_imagerng_is_per_seed_and_deterministic(host):
    rng = host.modules.rng
    shape = (4, 3, 5)
    first = rng.ImageRNG(shape, [7, 9]).next().cpu()
    assert first.shape == (2, *shape)
    assert torch.equal(first[0], seed_noise(7, shape))
    assert torch.equal(first[1], seed_noise(9, shape))
    assert torch.equal(rng.ImageRNG(shape, [9, 7]).next().cpu()[1], first[0])
    again = rng.ImageRNG(shape, [7, 9])
    assert torch.equal(again.next().cpu(), first)
    # a second draw goes on with each seed's generator
    generator = torch.Generator().manual_seed(7)
    torch.randn(shape, generator=generator)
    assert torch.equal(again.next().cpu()[0], torch.randn(shape, generator=generator))


def test_a_job_draws_each_images_noise_from_its_seed(host):
    p = job(host, (64, 48), batch_size=2, n_iter=2, seed=20)
    processed = host.processing.process_images(p)
    noises = [run["noise"].cpu() for run in processed.sampler_runs]
    assert [n.shape for n in noises] == [(2, 4, 8, 6)] * 2
    for batch, seeds in enumerate([(20, 21), (22, 23)]):
        for i, seed in enumerate(seeds):
            assert torch.equal(noises[batch][i], seed_noise(seed, (4, 8, 6)))


# ---------------------------------------------------------------------------------------------
# Job state and progress


def test_state_and_progress_for_a_plain_job(host):
    state = host.shared.state
    state.job_no = 99  # left over from an earlier job: begin() resets it
    seen = []
    state.on_step = lambda p, i: seen.append((i, state.sampling_step, state.sampling_steps))
    try:
        p = job(host, (64, 48), steps=10, denoising_strength=0.5, n_iter=3)
        processed = host.processing.process_images(p)
    finally:
        state.on_step = None
    runs = processed.sampler_runs
    assert [(r["job_no"], r["job_count"]) for r in runs] == [(0, 3), (1, 3), (2, 3)]
    assert [(r["width"], r["height"], r["denoise"]) for r in runs] == [(48, 64, 0.5)] * 3
    assert (state.job_no, state.job_count) == (3, 3)
    # t_enc = int(0.5 x 10) = 5: each sampling runs t_enc + 1 = 6 steps; the step counter
    # says the last finished step (0 before the first), and nextjob() sets it back to 0
    assert seen == [(i, max(i - 1, 0), 6) for i in range(6)] * 3
    assert (state.sampling_steps, state.sampling_step) == (6, 0)
    tqdm = host.shared.total_tqdm
    assert (tqdm.total, tqdm.n) == (3 * 6, 3 * 6)


def test_skip_stops_one_sampling_and_interrupt_the_job(host):
    state = host.shared.state
    steps = []

    def on_step(p, i):
        steps.append((p.iteration, i))
        if p.iteration == 0 and i == 2:
            state.skip()
        if p.iteration == 1 and i == 1:
            state.interrupt()

    state.on_step = on_step
    try:
        p = job(host, (64, 48), steps=10, n_iter=3)
        processed = host.processing.process_images(p)
    finally:
        state.on_step = None
    assert len(processed.sampler_runs) == 2  # the third iteration never starts
    assert len(processed.images) == 2  # an interrupted sampling still returns its latent
    assert host.shared.total_tqdm.n == 2 + 1  # steps 0, 1 of the first, step 0 of the second
    assert state.interrupted
    assert not state.skipped  # reset when the next iteration began
    host.processing.process_images(job(host, (64, 48)))
    assert not state.interrupted  # the next job begins afresh


def test_hires_fix_counts_both_passes(host):
    p = host.txt2img(enable_hr=True, hr_scale=1.5, steps=5, hr_second_pass_steps=3)
    processed = host.processing.process_images(p)
    state = host.shared.state
    assert host.shared.total_tqdm.total == (5 + 3) * 1
    assert state.job_count == 2
    assert state.job_no == 2
    assert [r["job_no"] for r in processed.sampler_runs] == [0, 1]


# ---------------------------------------------------------------------------------------------
# process_before_every_sampling


def test_process_before_every_sampling(host):
    scripts = host.modules.scripts
    seen = []

    class Watcher(scripts.Script):
        def title(self):
            return "watcher"

        def process_before_every_sampling(self, p, *args, **kwargs):
            seen.append(kwargs)

    class Broken(scripts.Script):
        def title(self):
            return "broken"

        def process_before_every_sampling(self, p, *args, **kwargs):
            raise KeyError("broken script")

    runner = scripts.ScriptRunner()
    for script in (Broken(), Watcher()):
        script.args_from = script.args_to = 0
        runner.alwayson_scripts.append(script)
    p = job(host, (64, 48), n_iter=2)
    p.scripts = runner
    processed = host.processing.process_images(p)
    if not host.shape.before_every_sampling:  # A1111 before 1.10
        assert seen == []
        return
    assert len(seen) == 2
    assert set(seen[0]) == {"x", "noise", "c", "uc"}
    for kwargs, run in zip(seen, processed.sampler_runs, strict=True):
        assert torch.equal(kwargs["noise"], run["noise"])
        assert torch.equal(kwargs["x"], run["x"])
    assert [type(e) for e in runner.errors] == [KeyError, KeyError]  # reported, job went on
