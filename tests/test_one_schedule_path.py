"""The command and the WebUI agree: what `schedule --json` prints is what the sampler receives.

For random (schedule, steps, denoise, full steps, sampler, model) a job runs on a stub host (its
own sigma table, its own ``setup_img2img_steps`` and slice, the extension's override) and the
command prints its plan on the table of the same precision; the two must be the same sigmas.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from latent_upscale import SCHEDULES
from latent_upscale.command.cli import main

# the stub's k-diffusion samplers (Euler has no discard, DPM2 drops the penultimate sigma)
SAMPLERS = ("Euler", "Euler a", "DPM++ 2M", "DPM2")


def printed(capsys, name, steps, denoise, full, sampler, model, table):
    argv = [
        "schedule", "-s", name, "--steps", str(steps), "--denoise", repr(denoise),
        "--full-steps" if full else "--no-full-steps", "--sampler", sampler,
        "--model", model, "--table", table, "--json",
    ]  # fmt: skip
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)["latent_upscale"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(list(SCHEDULES)),
    steps=st.integers(1, 60),
    denoise=st.one_of(st.just(0.0), st.just(1.0), st.floats(0.01, 1.0)),
    full=st.booleans(),
    sampler=st.sampled_from(SAMPLERS),
    sdxl=st.booleans(),
)
def test_the_sampler_gets_what_the_command_prints(
    host, capsys, name, steps, denoise, full, sampler, sdxl
):
    if name == "automatic" and host.shape.schedulers is None and sampler in ("DPM++ 2M", "DPM2"):
        return  # before 1.9 these samplers had no default schedule (their Karras twins did)
    model = host.processing.StubModel(is_sdxl=sdxl)
    p = host.img2img((64, 48), model=model, steps=steps, denoising_strength=denoise)
    p.sampler_name = sampler
    job = host.webui.Settings("area", name, full)
    ran = host.webui.run_job(p, job).sampler_runs[0]
    table = "comfyui" if host.shape.forge else "a1111"  # Forge's predictor: ComfyUI precision
    want = printed(capsys, name, steps, denoise, full, sampler, "sdxl" if sdxl else "sd1", table)
    assert [float(v) for v in ran["sigmas"]] == want["sigmas"]
    assert (ran["total"], ran["t_enc"]) == (want["total_steps"], want["t_enc"])
