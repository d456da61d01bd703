"""Properties of the one img2img plan (``plan_img2img``) for every schedule of the registry."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from latent_upscale import SCHEDULES, discrete_sigmas, plan_img2img
from latent_upscale.schedules import KDIFFUSION_SAMPLERS

TABLE = discrete_sigmas("a1111")


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(list(SCHEDULES)),
    steps=st.integers(1, 150),
    denoise=st.floats(0.015, 1.0),
    full=st.booleans(),
    sampler=st.sampled_from(KDIFFUSION_SAMPLERS),
)
def test_every_step_goes_down(name, steps, denoise, full, sampler):
    """No zero-length step, ever: a repeated sigma makes DPM++ 2M divide 0 by 0 (NaN)."""
    sigmas = plan_img2img(name, steps, denoise, full, TABLE, sampler=sampler).sigmas
    assert sigmas.numel() >= 2
    assert bool((sigmas[1:] < sigmas[:-1]).all()), sigmas


def test_simple_longer_than_the_table_has_no_repeats():
    # 30 steps at denoise 0.02 with full steps: a 1500-step Simple schedule on a 1000-entry
    # table repeats entries; the run starts where the WebUI's slice starts and keeps each
    # sigma once (so fewer than 30 steps run)
    plan = plan_img2img("simple", 30, 0.02, True, TABLE)
    values = plan.sigmas.tolist()
    assert len(set(values)) == len(values)
    assert 1 <= plan.steps_run < 30
    # the WebUI's slice of the schedule as ComfyUI/the WebUI compute Simple: same start
    step = TABLE.numel() / plan.total
    first = float(TABLE[-(1 + int((plan.total - plan.t_enc - 1) * step))])
    assert values[0] == first
