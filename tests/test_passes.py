"""Pass plans: target size, geometric pass sizes, per-pass strengths and schedules."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from latent_upscale import passes as ps
from latent_upscale.steps import plan_img2img
from latent_upscale.tables import discrete_sigmas

sides = st.integers(8, 2048)


def test_two_x_in_two_passes_is_two_steps_of_root_two():
    # 512 * sqrt(2) = 724.08..., whose nearest multiple of 8 is 728 (720 is 4.08 away)
    assert ps.pass_sizes((512, 512), (1024, 1024), 2) == [(728, 728), (1024, 1024)]
    assert ps.pass_sizes((512, 768), (1024, 1536), 1) == [(1024, 1536)]


@given(sides, sides, sides, sides, st.integers(1, ps.MAX_PASSES))
def test_pass_sizes_end_at_the_target_and_grow_geometrically(w0, h0, w1, h1, n):
    sizes = ps.pass_sizes((w0, h0), (w1, h1), n)
    assert len(sizes) == n
    assert sizes[-1] == (w1, h1)  # exactly, even where the target is not a multiple of 8
    for k, (w, h) in enumerate(sizes[:-1], start=1):
        assert w % 8 == 0
        assert h % 8 == 0
        assert w >= 8
        assert h >= 8
        for got, a, b in ((w, w0, w1), (h, h0, h1)):
            ideal = a * (b / a) ** (k / n)  # the geometric point, within half a multiple
            assert abs(got - ideal) <= 4 or (got == 8 and ideal < 8)
    # monotonic where the sides only grow
    if w1 >= w0 and h1 >= h0:
        for (wa, ha), (wb, hb) in itertools.pairwise(sizes):
            assert wb >= wa - 8
            assert hb >= ha - 8


@given(sides, sides, st.floats(0.1, ps.MAX_SCALE))
def test_scaled_size_is_the_nearest_multiple_of_eight(w, h, scale):
    sw, sh = ps.scaled_size((w, h), scale)
    for got, side in ((sw, w), (sh, h)):
        assert got % 8 == 0
        assert got >= 8
        assert abs(got - side * scale) <= 4 + 1e-9 or (got == 8 and side * scale < 8)


@pytest.mark.parametrize("bad", [-0.5, 8.01, math.inf, math.nan, True, "2"])
def test_scale_outside_its_range_is_refused(bad):
    with pytest.raises(ValueError, match="upscale by"):
        ps.check_scale(bad)


def test_scale_zero_has_no_scaled_size():
    with pytest.raises(ValueError, match="off"):
        ps.scaled_size((64, 64), 0)


def test_each_pass_runs_the_one_img2img_plan_at_its_strength():
    table = discrete_sigmas("a1111")
    plan = ps.plan_passes(
        "karras", 12, 0.6, True, source=(64, 64), target=(128, 96), passes=3,
        later_denoise=0.3, table=table, sampler="DPM2",
    )  # fmt: skip
    assert [p.index for p in plan] == [1, 2, 3]
    assert [p.denoise for p in plan] == [0.6, 0.3, 0.3]
    assert [(p.width, p.height) for p in plan][-1] == (128, 96)
    assert [p.latent_size for p in plan][-1] == (12, 16)
    for p in plan:
        expected = plan_img2img("karras", 12, p.denoise, True, table, sampler="DPM2").sigmas
        assert torch.equal(p.sigmas, expected)
        assert p.steps_run == 12  # full steps in every pass


def test_a_later_strength_past_the_length_limit_is_refused_before_anything_runs():
    with pytest.raises(ValueError, match="limit"):
        ps.plan_passes(
            "simple", 150, 0.5, True, source=(64, 64), target=(128, 128), passes=2,
            later_denoise=0.001,
        )  # fmt: skip
