"""Stub of ``modules.sd_samplers_kdiffusion``: sigma tables, ``get_sigmas`` and img2img slicing.

``get_sigmas`` keeps each host's order: the override first; then the per-job scheduler (1.9+)
or ``opts.k_sched_type`` / the sampler's "scheduler" option (<= 1.8); else the model wrapper's
own ``get_sigmas``; the penultimate sigma dropped for discard samplers; ``.cpu()`` on 1.10+.
"""

from __future__ import annotations

import math
from typing import Any

import modules
import torch
from modules import sd_samplers_common, shared

HOST = modules.HOST


def _zero(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, x.new_zeros([1])])


class DiscreteTable:
    """k-diffusion ``DiscreteSchedule`` behaviour on an ascending table (log-linear in t)."""

    def __init__(self, sigmas: torch.Tensor) -> None:
        self.sigmas = sigmas
        self.log_sigmas = sigmas.log()

    def t_to_sigma(self, t: torch.Tensor) -> torch.Tensor:
        t = t.float()
        lo, hi, w = t.floor().long(), t.ceil().long(), t.frac()
        return ((1 - w) * self.log_sigmas[lo] + w * self.log_sigmas[hi]).exp()

    def sigma_to_t(self, sigma: torch.Tensor) -> torch.Tensor:
        log_sigma = sigma.log()
        dists = log_sigma - self.log_sigmas[:, None]
        low = dists.ge(0).cumsum(dim=0).argmax(dim=0).clamp(max=self.log_sigmas.shape[0] - 2)
        high = low + 1
        lo, hi = self.log_sigmas[low], self.log_sigmas[high]
        w = ((lo - log_sigma) / (lo - hi)).clamp(0, 1)
        return ((1 - w) * low + w * high).view(sigma.shape)

    def get_sigmas(self, n: int | None = None) -> torch.Tensor:
        if n is None:
            return _zero(self.sigmas.flip(0))
        t_max = len(self.sigmas) - 1
        return _zero(self.t_to_sigma(torch.linspace(t_max, 0, n, device=self.sigmas.device)))


class CompVisDenoiser(DiscreteTable):
    """A1111's wrapper: the table computed in float32 from the model's float32 alphas_cumprod."""

    def __init__(self, model: Any, quantize: bool = False) -> None:
        ac = model.alphas_cumprod
        super().__init__(((1 - ac) / ac) ** 0.5)
        self.inner_model = model
        self.quantize = quantize

    @property
    def sigma_min(self) -> torch.Tensor:
        return self.sigmas[0]

    @property
    def sigma_max(self) -> torch.Tensor:
        return self.sigmas[-1]


class CompVisVDenoiser(CompVisDenoiser):
    """The v-prediction wrapper: same table."""


class ForgeScheduleLinker(DiscreteTable):
    """Forge main's wrapper of the model's predictor (ComfyUI-precision table)."""

    def __init__(self, predictor: Any) -> None:
        super().__init__(predictor.sigmas)
        self.predictor = predictor

    @property
    def sigma_min(self) -> Any:
        return self.predictor.sigma_min()  # the predictor's property is a tensor: TypeError

    @property
    def sigma_max(self) -> Any:
        return self.predictor.sigma_max()


def make_model_wrap(sd_model: Any) -> Any:
    if HOST.forge:
        return ForgeScheduleLinker(sd_model.forge_objects.unet.model.predictor)
    if hasattr(sd_model, "flow_sigmas"):  # A1111 1.10's SD3: the model makes its own denoiser
        return DiscreteTable(sd_model.flow_sigmas)
    if getattr(sd_model, "parameterization", "eps") == "v":
        return CompVisVDenoiser(sd_model, quantize=shared.opts.enable_quantization)
    return CompVisDenoiser(sd_model, quantize=shared.opts.enable_quantization)


def _karras(
    n: int, sigma_min: float, sigma_max: float, rho: float = 7.0, device: Any = "cpu"
) -> Any:
    ramp = torch.linspace(0, 1, n, device=device)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return _zero((hi + ramp * (lo - hi)) ** rho)


def _exponential(n: int, sigma_min: float, sigma_max: float, device: Any = "cpu") -> Any:
    return _zero(torch.linspace(math.log(sigma_max), math.log(sigma_min), n, device=device).exp())


k_diffusion_scheduler = {"Automatic": None, "karras": _karras, "exponential": _exponential}


class KDiffusionSampler(sd_samplers_common.Sampler):
    def __init__(self, funcname: str, sd_model: Any, options: dict | None = None) -> None:
        super().__init__(funcname)
        self.options = options or {}
        self.model_wrap = make_model_wrap(sd_model)

    def get_sigmas(self, p: Any, steps: int) -> torch.Tensor:
        opts = shared.opts
        options = self.config.options if self.config is not None else {}
        discard = options.get("discard_next_to_last_sigma", False)
        if opts.always_discard_next_to_last_sigma and not discard:
            discard = True
            p.extra_generation_params["Discard penultimate sigma"] = True
        steps += 1 if discard else 0
        m_min, m_max = self.model_wrap.sigmas[0].item(), self.model_wrap.sigmas[-1].item()
        if HOST.schedulers is not None:
            from modules import sd_schedulers

            name = p.scheduler or "Automatic"
            if name == "Automatic":
                name = options.get("scheduler", None)
            scheduler = sd_schedulers.schedulers_map.get(name)
            if p.sampler_noise_scheduler_override:
                sigmas = p.sampler_noise_scheduler_override(steps)
            elif scheduler is None or scheduler.function is None:
                sigmas = self.model_wrap.get_sigmas(steps)
            else:
                kwargs: dict[str, Any] = {"sigma_min": m_min, "sigma_max": m_max}
                if scheduler.label != "Automatic":
                    p.extra_generation_params["Schedule type"] = scheduler.label
                if scheduler.default_rho != -1 and opts.rho != 0:
                    kwargs["rho"] = opts.rho
                    p.extra_generation_params["Schedule rho"] = opts.rho
                if scheduler.need_inner_model:
                    kwargs["inner_model"] = self.model_wrap
                if scheduler.label == "Beta":
                    p.extra_generation_params["Beta schedule alpha"] = opts.beta_dist_alpha
                    p.extra_generation_params["Beta schedule beta"] = opts.beta_dist_beta
                sigmas = scheduler.function(n=steps, **kwargs, device=shared.device)
        elif p.sampler_noise_scheduler_override:
            sigmas = p.sampler_noise_scheduler_override(steps)
        elif opts.k_sched_type != "Automatic":
            p.extra_generation_params["Schedule type"] = opts.k_sched_type
            sigmas = k_diffusion_scheduler[opts.k_sched_type](
                steps, m_min, m_max, device=shared.device
            )
        elif options.get("scheduler", None) == "karras":
            sigmas = (
                _karras(steps, 0.1, 10)
                if opts.use_old_karras_scheduler_sigmas
                else _karras(steps, m_min, m_max)
            )
        else:
            sigmas = self.model_wrap.get_sigmas(steps)
        if discard:
            sigmas = torch.cat([sigmas[:-2], sigmas[-1:]])
        return sigmas.cpu() if HOST.sigmas_on_cpu else sigmas

    def sample_img2img(
        self,
        p: Any,
        x: torch.Tensor,
        noise: torch.Tensor,
        conditioning: Any,
        unconditional_conditioning: Any,
        steps: int | None = None,
        image_conditioning: Any = None,
    ) -> torch.Tensor:
        steps, t_enc = sd_samplers_common.setup_img2img_steps(p, steps)
        sigmas = self.get_sigmas(p, steps)
        sigma_sched = sigmas[steps - t_enc - 1 :]
        xi = x + noise * sigma_sched[0].to(x.device)
        run = {
            "total": steps,
            "t_enc": t_enc,
            "sigmas": sigma_sched.detach().cpu().clone(),  # what ran, for comparisons
            "sigmas_device": sigmas.device,
            "x": x.detach().clone(),  # the latent it started from (hires: the resized one)
        }
        self._record(p, run, x, noise, image_conditioning)

        def step(latent: torch.Tensor, i: int) -> torch.Tensor:
            s, s_next = sigma_sched[i].item(), sigma_sched[i + 1].item()
            return latent + (s_next - s) * (latent - x) / s

        return self._loop(p, xi, len(sigma_sched) - 1, step)

    def sample(
        self,
        p: Any,
        x: torch.Tensor,
        conditioning: Any,
        unconditional_conditioning: Any,
        steps: int | None = None,
        image_conditioning: Any = None,
    ) -> torch.Tensor:
        """txt2img: the full schedule from pure noise ``x`` toward a fixed fake prediction."""
        steps = steps or p.steps
        sigmas = self.get_sigmas(p, steps)
        run = {"total": steps, "t_enc": steps, "sigmas": sigmas.detach().cpu().clone()}
        self._record(p, run, x, x, image_conditioning)

        def step(latent: torch.Tensor, i: int) -> torch.Tensor:
            s, s_next = sigmas[i].item(), sigmas[i + 1].item()
            denoised = torch.tanh(latent / (1 + s * s) ** 0.5)
            return latent + (s_next - s) * (latent - denoised) / s

        return self._loop(p, x * sigmas[0].to(x.device), len(sigmas) - 1, step)
