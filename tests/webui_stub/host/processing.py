"""Stub of ``modules.processing``: img2img ``init`` around the latent resize, ``sample``,
txt2img with the Hires. fix, ``process_images`` with infotext, interrupts and exceptions.

The fake model encodes with 8x8 average pooling of the [0, 1] image mixed into C channels, so a
test can recompute the latent the host resizes. ``init`` keeps the host's order: sampler, mask
preparation, (Forge) ``before_process_init_images``, encode at the original size, the resize-mode
3 bilinear interpolate, then the latent mask (default-mode interpolate), fill and conditioning.
"""

from __future__ import annotations

import importlib
import types
from typing import Any

import modules
import numpy as np
import torch
from modules import devices, sd_samplers, shared

HOST = modules.HOST
infotext = importlib.import_module(f"modules.{HOST.infotext_module}")

opt_f = 8
opt_C = 4
RESIZE_INTERPOLATION = "bilinear"  # what the host passes; a test changes it to mimic a new host
HIRES_INTERPOLATE = None  # a test sets a function to mimic a host that doesn't resize via the
# ``torch.nn.functional.interpolate`` attribute in its Hires. fix (None: that attribute)


def scaled_linear_alphas_cumprod() -> torch.Tensor:
    """SD1.x/SDXL alphas_cumprod in float64 (betas linear in sqrt, 0.00085 to 0.012)."""
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, dim=0)


def flow_sigmas(shift: float, count: int = 1000) -> torch.Tensor:
    """A flow-matching model's ascending sigma table (SD3 / Flux style): for the times
    t = 1/count ... 1 the shifted time shift * t / (1 + (shift - 1) * t), so sigma_max = 1."""
    t = torch.arange(1, count + 1, dtype=torch.float64) / count
    return (shift * t / (1 + (shift - 1) * t)).float()


class Predictor:
    """Forge's model predictor: the sigma table in float64 then float32 (ComfyUI precision)."""

    def __init__(self, alphas_cumprod: torch.Tensor, flow_shift: float | None = None) -> None:
        if flow_shift is not None:
            self.sigmas = flow_sigmas(flow_shift)
        else:
            self.sigmas = (((1 - alphas_cumprod) / alphas_cumprod) ** 0.5).float()

    @property
    def sigma_min(self) -> torch.Tensor:
        return self.sigmas[0]

    @property
    def sigma_max(self) -> torch.Tensor:
        return self.sigmas[-1]


class StubModel:
    """A model with a fake VAE: encode = 8x8 average pooling, mixed into ``channels`` channels."""

    def __init__(
        self,
        channels: int = 4,
        is_sdxl: bool = False,
        parameterization: str = "eps",
        table_power: float = 1.0,
        flow_shift: float | None = None,
    ) -> None:
        ac = scaled_linear_alphas_cumprod() ** table_power  # another power: another sigma table
        self.alphas_cumprod = ac.float().to(shared.device)
        if flow_shift is not None:  # SD3 / Flux: the model's own denoiser holds a flow table
            self.flow_sigmas = flow_sigmas(flow_shift).to(shared.device)
        self.is_sdxl = is_sdxl
        self.parameterization = parameterization
        self.channels = channels
        if HOST.mask_channels_from_latent:  # 1.10+: the model says how many latent channels
            self.latent_channels = channels
        if HOST.forge:
            predictor = Predictor(ac.to(shared.device), flow_shift)
            unet = types.SimpleNamespace(model=types.SimpleNamespace(predictor=predictor))
            vae = types.SimpleNamespace(latent_channels=channels)
            self.forge_objects = types.SimpleNamespace(unet=unet, vae=vae)
        self.mix = torch.linspace(-1, 1, channels * 3).reshape(channels, 3).to(shared.device)

    def encode(self, image: torch.Tensor) -> torch.Tensor:
        """A full-precision VAE: float32 whatever autocast is on (like ``--no-half-vae``)."""
        with torch.autocast(device_type=self.mix.device.type, enabled=False):
            pooled = torch.nn.functional.avg_pool2d(image.to(self.mix.device).float(), 8)
            return torch.einsum("bkhw,ck->bchw", pooled, self.mix)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """A [B, 3, 8h, 8w] image in [0, 1] from the latent (not an inverse of encode)."""
        with torch.autocast(device_type=self.mix.device.type, enabled=False):
            image = torch.einsum("bchw,ck->bkhw", latent.float(), self.mix).sigmoid()
        return image.repeat_interleave(8, dim=2).repeat_interleave(8, dim=3)


def images_tensor_to_samples(image: torch.Tensor, approximation: Any, model: StubModel) -> Any:
    return model.encode(image)


class StableDiffusionProcessing:
    def __init__(self, **kwargs: Any) -> None:
        self.prompt = ""
        self.negative_prompt = ""
        self.seed = 1
        self.subseed = -1
        self.subseed_strength = 0.0
        self.steps = 20
        self.cfg_scale = 7.0
        self.sampler_name = "Euler"
        self.batch_size = 1
        self.n_iter = 1
        self.width = 64
        self.height = 64
        self.sd_model = None
        self.extra_generation_params: dict[str, Any] = {}
        self.override_settings: dict[str, Any] = {}
        self.scripts = None
        self.script_args: list[Any] = []
        self.comments: dict[str, int] = {}
        self.sampler_noise_scheduler_override = None
        self.styles: list[str] = []
        if HOST.schedulers is not None:
            self.scheduler = None
        for key, value in kwargs.items():
            setattr(self, key, value)

    def comment(self, text: str) -> None:
        self.comments[text] = 1


class StableDiffusionProcessingImg2Img(StableDiffusionProcessing):
    def __init__(self, **kwargs: Any) -> None:
        self.init_images: list[Any] = []
        self.resize_mode = 0
        self.denoising_strength = 0.5
        self.image_mask = None
        self.mask_round = True
        self.inpainting_fill = 1
        self.init_latent = None
        self.image_conditioning = None
        self.mask = None
        self.nmask = None
        super().__init__(**kwargs)

    def init(self, all_prompts: list[str], all_seeds: list[int], all_subseeds: list[int]) -> None:
        self.extra_generation_params["Denoising strength"] = self.denoising_strength
        self.sampler = sd_samplers.create_sampler(self.sampler_name, self.sd_model)
        mask = self.image_mask
        if HOST.forge and self.scripts is not None:
            self.scripts.before_process_init_images(self, {"image_mask": mask})
        pixels = []
        for image in self.init_images:
            image = np.asarray(image, dtype=np.float32)
            if self.resize_mode != 3:  # the host resizes the pixels (PIL there, nearest here)
                rows = np.arange(self.height) * image.shape[0] // self.height
                cols = np.arange(self.width) * image.shape[1] // self.width
                image = image[rows][:, cols]
            pixels.append(image)
        if len(pixels) == 1:
            pixels = pixels * self.batch_size
        image = torch.from_numpy(np.stack(pixels)).permute(0, 3, 1, 2)  # [B, 3, H, W] in [0, 1]
        image = image.to(dtype=torch.float32 if HOST.forge else devices.dtype_vae)
        self.init_latent = images_tensor_to_samples(image, None, self.sd_model)
        if self.resize_mode == 3:
            self.init_latent = torch.nn.functional.interpolate(
                self.init_latent,
                size=(self.height // opt_f, self.width // opt_f),
                mode=RESIZE_INTERPOLATION,
            )
        if mask is not None:
            mask_tensor = torch.as_tensor(np.asarray(mask, dtype=np.float32))[None, None]
            mask_tensor = mask_tensor.to(self.init_latent.device)
            latmask = torch.nn.functional.interpolate(mask_tensor, size=self.init_latent.shape[2:])
            if self.mask_round:
                latmask = latmask.round()
            channels = self.init_latent.shape[1] if HOST.mask_channels_from_latent else 4
            latmask = latmask[0].expand(channels, -1, -1)
            self.mask = (1.0 - latmask).to(self.init_latent.dtype)
            self.nmask = latmask.to(self.init_latent.dtype)
            if self.inpainting_fill == 3:
                self.init_latent = self.init_latent * self.mask
        self.image_conditioning = self.img2img_image_conditioning(
            image * 2 - 1, self.init_latent, mask
        )

    def img2img_image_conditioning(self, source: Any, latent: torch.Tensor, mask: Any) -> Any:
        """Ordinary models: a dummy sized by batch; the mask goes to latent size (nearest)."""
        if mask is not None:
            mask_tensor = torch.as_tensor(np.asarray(mask, dtype=np.float32))[None, None]
            self.conditioning_mask = torch.nn.functional.interpolate(
                mask_tensor, size=latent.shape[-2:]
            )
        return latent.new_zeros(latent.shape[0], 5, 1, 1)

    def sample(
        self, conditioning: Any, unconditional_conditioning: Any, seeds: list[int], **_: Any
    ) -> Any:
        channels = getattr(self.sd_model, "latent_channels", opt_C)
        if HOST.forge:
            channels = self.sd_model.forge_objects.vae.latent_channels
        shape = (len(seeds), channels, self.height // opt_f, self.width // opt_f)
        generator = torch.Generator().manual_seed(int(seeds[0]))
        noise = torch.randn(shape, generator=generator).to(shared.device)
        samples = self.sampler.sample_img2img(
            self, self.init_latent, noise, conditioning, unconditional_conditioning,
            image_conditioning=self.image_conditioning,
        )  # fmt: skip
        if self.mask is not None:
            samples = samples * self.nmask + self.init_latent * self.mask
        return samples


class StableDiffusionProcessingTxt2Img(StableDiffusionProcessing):
    """txt2img with the Hires. fix in the hosts' shape (hosts notes, section 14)."""

    def __init__(self, **kwargs: Any) -> None:
        self.enable_hr = False
        self.denoising_strength = 0.75
        self.hr_scale = 2.0
        self.hr_upscaler: str | None = None
        self.hr_second_pass_steps = 0
        self.hr_sampler_name: str | None = None
        self.hr_additional_modules: list[str] | None = None  # Forge's API field (ignored here)
        self.latent_scale_mode: dict[str, Any] | None = None
        self.hr_upscale_to_x = 0
        self.hr_upscale_to_y = 0
        self.is_hr_pass = False
        super().__init__(**kwargs)

    def init(self, all_prompts: list[str], all_seeds: list[int], all_subseeds: list[int]) -> None:
        if not self.enable_hr:
            return
        self.extra_generation_params["Denoising strength"] = self.denoising_strength
        if self.hr_upscaler is None:
            self.latent_scale_mode = shared.latent_upscale_modes.get(
                shared.latent_upscale_default_mode, "nearest"
            )
        else:
            self.latent_scale_mode = shared.latent_upscale_modes.get(self.hr_upscaler, None)
        pixel = any(x.name == self.hr_upscaler for x in shared.sd_upscalers)
        if self.latent_scale_mode is None and not pixel:
            raise Exception(f"could not find upscaler named {self.hr_upscaler}")
        self.extra_generation_params["Hires upscale"] = self.hr_scale
        self.hr_upscale_to_x = int(self.width * self.hr_scale)
        self.hr_upscale_to_y = int(self.height * self.hr_scale)
        if self.hr_second_pass_steps:
            self.extra_generation_params["Hires steps"] = self.hr_second_pass_steps
        if self.hr_upscaler is not None:
            self.extra_generation_params["Hires upscaler"] = self.hr_upscaler

    def sample(
        self, conditioning: Any, unconditional_conditioning: Any, seeds: list[int], **_: Any
    ) -> Any:
        self.sampler = sd_samplers.create_sampler(self.sampler_name, self.sd_model)
        shape = (len(seeds), self.sd_model.channels, self.height // opt_f, self.width // opt_f)
        generator = torch.Generator().manual_seed(int(seeds[0]))
        x = torch.randn(shape, generator=generator).to(shared.device)
        samples = self.sampler.sample(self, x, conditioning, unconditional_conditioning)
        if not self.enable_hr:
            return samples
        decoded = None if self.latent_scale_mode is not None else self.sd_model.decode(samples)
        return self.sample_hr_pass(samples, decoded, seeds, None, 0.0, None)

    def sample_hr_pass(
        self,
        samples: torch.Tensor,
        decoded_samples: Any,
        seeds: list[int],
        subseeds: Any,
        subseed_strength: float,
        prompts: Any,
    ) -> torch.Tensor:
        if shared.state.interrupted:
            return samples
        self.is_hr_pass = True
        target_width, target_height = self.hr_upscale_to_x, self.hr_upscale_to_y
        self.sampler = sd_samplers.create_sampler(
            self.hr_sampler_name or self.sampler_name, self.sd_model
        )
        if self.latent_scale_mode is not None:
            samples = (HIRES_INTERPOLATE or torch.nn.functional.interpolate)(
                samples,
                size=(target_height // opt_f, target_width // opt_f),
                mode=self.latent_scale_mode["mode"],
                antialias=self.latent_scale_mode["antialias"],
            )
        else:  # a pixel upscaler: decode, resize the image, encode again
            upscaler = next(x for x in shared.sd_upscalers if x.name == self.hr_upscaler)
            image = torch.nn.functional.interpolate(
                decoded_samples, size=(target_height, target_width), mode=upscaler.mode
            )
            samples = self.sd_model.encode(image.clamp(0, 1))
        image_conditioning = samples.new_zeros(samples.shape[0], 5, 1, 1)
        shared.state.nextjob()
        generator = torch.Generator().manual_seed(int(seeds[0]) + 1)
        noise = torch.randn(samples.shape, generator=generator).to(samples.device)
        samples = self.sampler.sample_img2img(
            self, samples, noise, None, None,
            steps=self.hr_second_pass_steps or self.steps,
            image_conditioning=image_conditioning,
        )  # fmt: skip
        self.is_hr_pass = False
        return samples


class Processed:
    def __init__(self, p: StableDiffusionProcessing, images: list[Any], infotexts: list[str]):
        self.images = images
        self.infotexts = infotexts
        self.info = infotexts[0] if infotexts else ""
        self.extra_generation_params = p.extra_generation_params
        self.comments = "\n".join(p.comments)
        self.sampler_runs = list(getattr(getattr(p, "sampler", None), "runs", []))


def create_infotext(p: StableDiffusionProcessing) -> str:
    params: dict[str, Any] = {"Steps": p.steps, "Sampler": p.sampler_name}
    if HOST.schedulers is not None:
        params["Schedule type"] = p.scheduler
    params.update(
        {"CFG scale": p.cfg_scale, "Seed": p.seed, "Size": f"{p.width}x{p.height}"},
    )
    params.update(p.extra_generation_params)
    text = ", ".join(f"{k}: {infotext.quote(v)}" for k, v in params.items() if v is not None)
    return f"{p.prompt}\n{text}".strip()


def process_images(p: StableDiffusionProcessing) -> Processed:
    if p.scripts is not None:
        p.scripts.before_process(p)
    if HOST.schedulers is not None and len(HOST.schedulers) > 6:
        sd_samplers.fix_p_invalid_sampler_and_scheduler(p)
    return process_images_inner(p)


def process_images_inner(p: StableDiffusionProcessing) -> Processed:
    p.all_prompts = [p.prompt] * (p.batch_size * p.n_iter)
    p.all_seeds = [int(p.seed) + i for i in range(len(p.all_prompts))]
    p.all_subseeds = list(p.all_seeds)
    if p.scripts is not None:
        p.scripts.process(p)
    images: list[Any] = []
    infotexts: list[str] = []
    with torch.no_grad():
        with devices.autocast():  # as the hosts do: init (encode, resize) under autocast
            p.init(p.all_prompts, p.all_seeds, p.all_subseeds)
        for n in range(p.n_iter):
            if shared.state.interrupted:
                break
            p.seeds = p.all_seeds[n * p.batch_size : (n + 1) * p.batch_size]
            with devices.autocast():
                samples = p.sample(None, None, seeds=p.seeds)
            if shared.state.on_postprocess is not None:
                shared.state.on_postprocess(p)
            for sample in samples:
                images.append(sample)
                infotexts.append(create_infotext(p))
    return Processed(p, images, infotexts)


def make_img2img(
    size: tuple[int, int] = (64, 48),
    *,
    model: StubModel | None = None,
    image: np.ndarray | None = None,
    seed: int = 3,
    **kwargs: Any,
) -> StableDiffusionProcessingImg2Img:
    """An img2img job on a deterministic [0, 1] image of ``size`` = (height, width) pixels."""
    model = model or StubModel()
    shared.sd_model = model
    if image is None:
        h, w = size
        yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        image = np.stack(
            [(yy * 7 + xx * 3) % 23 / 22, (xx * xx + yy) % 17 / 16, (yy * xx) % 11 / 10], -1
        )
    defaults = {"width": 96, "height": 72, "resize_mode": 3, "sd_model": model}
    return StableDiffusionProcessingImg2Img(
        init_images=[image.astype(np.float32)], seed=seed, **{**defaults, **kwargs}
    )


def make_txt2img(
    *, model: StubModel | None = None, seed: int = 3, **kwargs: Any
) -> StableDiffusionProcessingTxt2Img:
    """A txt2img job (64x48 pixels unless told), Hires. fix off unless ``enable_hr=True``."""
    model = model or StubModel()
    shared.sd_model = model
    defaults = {"width": 48, "height": 64, "steps": 6, "sd_model": model}
    return StableDiffusionProcessingTxt2Img(seed=seed, **{**defaults, **kwargs})
