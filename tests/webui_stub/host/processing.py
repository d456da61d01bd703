"""Stub of ``modules.processing``: img2img ``init`` around the latent resize, ``sample``,
txt2img with the Hires. fix, ``process_images`` with infotext, interrupts and exceptions.

The fake model encodes with 8x8 average pooling of the [0, 1] image mixed into C channels, so a
test can recompute the latent the host resizes. ``init`` keeps the host's order: sampler, mask
preparation (binary mask, invert, blur, "Only masked" crop or the resize to the job's size),
(Forge) ``before_process_init_images``, overlay and fill per image, encode at the original size,
the resize-mode-3 bilinear interpolate, then the latent mask (default-mode interpolate), latent
fill and conditioning. ``process_images_inner`` decodes each sample and pastes the overlay back
as the hosts do (``Processed.pixels``).

Pixels are HxWx3 float32 arrays in [0, 1] (masks HxW, overlays HxWx4 RGBA), not PIL images.
Own simplifications: every pixel resize picks the nearest source pixel (the hosts use Lanczos,
an upscaler or PIL's bicubic); "resize and crop" / "resize and fill" (modes 1 and 2; mode 3
falls into fill as in the host) place and fill as the host does; the mask blur is a separable
Gaussian of sigma ``mask_blur``; "fill" (inpainting_fill 0) paints the masked area with the
mean colour of the rest; the latent mask is torch's default (nearest) interpolate.
"""

from __future__ import annotations

import importlib
import threading
import types
from typing import Any

import modules
import numpy as np
import torch
from modules import devices, rng, sd_samplers, shared

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
        inpainting: bool = False,
    ) -> None:
        ac = scaled_linear_alphas_cumprod() ** table_power  # another power: another sigma table
        self.alphas_cumprod = ac.float().to(shared.device)
        if flow_shift is not None:  # SD3 / Flux: the model's own denoiser holds a flow table
            self.flow_sigmas = flow_sigmas(flow_shift).to(shared.device)
        self.is_sdxl = is_sdxl
        self.parameterization = parameterization
        self.channels = channels
        # an inpainting model (its UNet takes the latent beside a [B, 1 + C, h, w] image
        # conditioning): A1111 reads the conditioning key, Forge ``is_inpaint``
        self.inpainting = inpainting
        self.is_inpaint = inpainting
        self.model = types.SimpleNamespace(conditioning_key="hybrid" if inpainting else "crossattn")
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


def latent_channels(model: Any) -> int:
    """The noise's channel count as ``process_images_inner`` asks it: Forge's VAE, else the
    model's ``latent_channels`` (1.10+), else 4. (The hosts ask ``shared.sd_model``; the stub
    asks the job's model, which is the same object there.)"""
    if HOST.forge:
        return int(model.forge_objects.vae.latent_channels)
    return int(getattr(model, "latent_channels", opt_C))


# ---------------------------------------------------------------------------------------------
# Pixels: HxW[xC] float32 arrays


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The stub's resampler: each output pixel takes the nearest source pixel (up and left)."""
    rows = np.arange(height) * image.shape[0] // height
    cols = np.arange(width) * image.shape[1] // width
    return image[rows][:, cols]


def _paste(canvas: np.ndarray, image: np.ndarray, x: int, y: int) -> None:
    """``image`` onto ``canvas`` with its top-left corner at (x, y); what falls outside is
    dropped (as PIL's paste clips)."""
    x0, y0 = max(x, 0), max(y, 0)
    x1 = min(x + image.shape[1], canvas.shape[1])
    y1 = min(y + image.shape[0], canvas.shape[0])
    if x1 > x0 and y1 > y0:
        canvas[y0:y1, x0:x1] = image[y0 - y : y1 - y, x0 - x : x1 - x]


def resize_image(mode: int, image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``images.resize_image``'s placement: 0 stretches; 1 scales to cover and keeps the centre;
    2 (and any other mode, 3 included) scales to fit, centres it and stretches the edge
    rows or columns over the bands beside it (each band ``offset`` wide, as in the host, so an
    odd leftover line stays black)."""
    h, w = image.shape[:2]
    if mode == 0:
        return _resize(image, width, height)
    wide_target = width / height > w / h
    narrow_target = width / height < w / h
    if mode == 1:
        fit_w = width if wide_target else w * height // h
        fit_h = height if not wide_target else h * width // w
    else:
        fit_w = width if narrow_target else w * height // h
        fit_h = height if not narrow_target else h * width // w
    resized = _resize(image, fit_w, fit_h)
    out = np.zeros((height, width, *image.shape[2:]), dtype=image.dtype)
    top, left = height // 2 - fit_h // 2, width // 2 - fit_w // 2
    _paste(out, resized, left, top)
    if mode != 1 and narrow_target and top > 0:
        out[:top] = resized[:1]
        out[top + fit_h : 2 * top + fit_h] = resized[-1:]
    elif mode != 1 and wide_target and left > 0:
        out[:, :left] = resized[:, :1]
        out[:, left + fit_w : 2 * left + fit_w] = resized[:, -1:]
    return out


def create_binary_mask(mask: Any, round: bool = True) -> np.ndarray:
    """The user's mask as an HxW array in [0, 1]: an RGBA mask whose alpha is not all opaque
    gives its alpha (cut at 128/255 when ``round``), any other colour mask its luminance."""
    m = np.asarray(mask, dtype=np.float32)
    if m.ndim == 3 and m.shape[2] == 4 and not np.all(m[..., 3] == 1):
        alpha = m[..., 3]
        return (alpha > 128 / 255).astype(np.float32) if round else alpha.copy()
    if m.ndim == 3 and m.shape[2] in (3, 4):
        return (m[..., 0] * 0.299 + m[..., 1] * 0.587 + m[..., 2] * 0.114).astype(np.float32)
    if m.ndim == 2:
        return m.copy()
    raise ValueError(f"a mask is an HxW, HxWx3 or HxWx4 array, not one of shape {m.shape}")


def blur_mask(mask: np.ndarray, sigma: float) -> np.ndarray:
    """A separable Gaussian (sigma ``sigma``, radius about 2.5 sigma, mirrored edges): along
    the rows, then along the columns."""
    radius = int(2.5 * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = mask.astype(np.float64)
    for axis in (1, 0):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect")
        size = out.shape[axis]
        out = sum(
            tap * np.take(padded, np.arange(k, k + size), axis=axis) for k, tap in enumerate(taps)
        )
    return out.astype(np.float32)


def mask_bounding_box(mask: np.ndarray, pad: int = 0) -> tuple[int, int, int, int] | None:
    """(x1, y1, x2, y2), ends exclusive, around the mask's nonzero pixels, grown by ``pad``
    within the picture; None for a blank mask."""
    ys, xs = np.nonzero(mask > 0)
    if len(xs) == 0:
        return None
    x1, y1, x2, y2 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    if pad:
        height, width = mask.shape[:2]
        x1, y1 = max(x1 - pad, 0), max(y1 - pad, 0)
        x2, y2 = min(x2 + pad, width), min(y2 + pad, height)
    return x1, y1, x2, y2


def _grow_span(a: int, b: int, grow: int, limit: int) -> tuple[int, int]:
    """[a, b) grown by ``grow`` (half before, the rest after), pushed back inside [0, limit)."""
    a, b = a - grow // 2, b + grow - grow // 2
    if b > limit:
        a, b = a - (b - limit), limit
    if a < 0:
        a, b = 0, b - a
    return a, min(b, limit)


def expand_to_aspect(
    box: tuple[int, int, int, int], width: int, height: int, image_w: int, image_h: int
) -> tuple[int, int, int, int]:
    """The box grown along its short side to the aspect of width x height (kept in the
    picture; where it does not fit it is clipped)."""
    x1, y1, x2, y2 = box
    aspect = width / height
    if (x2 - x1) / (y2 - y1) > aspect:
        y1, y2 = _grow_span(y1, y2, int((x2 - x1) / aspect - (y2 - y1)), image_h)
    else:
        x1, x2 = _grow_span(x1, x2, int((y2 - y1) * aspect - (x2 - x1)), image_w)
    return x1, y1, x2, y2


def _images_must_match(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[:2] != b.shape[:2]:
        raise ValueError("images do not match")  # PIL's message for a paste mask of another size


def fill_masked(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """inpainting_fill 0 (the host blurs the rest of the picture into the hole): here the
    masked part becomes the mean colour of the unmasked part. Like the host's paste, it fails
    when the mask's size is not the image's."""
    _images_must_match(image, mask)
    keep = (1 - mask)[..., None]
    weight = float(keep.sum())
    colour = (image * keep).sum(axis=(0, 1)) / weight if weight > 0 else np.zeros(3)
    return (image * keep + colour * mask[..., None]).astype(np.float32)


def overlay_image(image: np.ndarray, mask_for_overlay: np.ndarray) -> np.ndarray:
    """The original picture with the masked part transparent: RGBA, alpha = 1 - mask (colour 0
    where fully transparent, as the host's premultiplied paste leaves it)."""
    _images_must_match(image, mask_for_overlay)
    alpha = (1 - mask_for_overlay)[..., None]
    colour = np.where(alpha > 0, image[..., :3], 0)
    return np.concatenate([colour, alpha], axis=-1).astype(np.float32)


def _rgba(image: np.ndarray) -> np.ndarray:
    return np.concatenate([image, np.ones_like(image[..., :1])], axis=-1)


def alpha_composite(base: np.ndarray, overlay: np.ndarray) -> np.ndarray:
    """PIL's ``Image.alpha_composite`` method (in place on the base there): the overlay ("over")
    with its top-left corner on the base's, on the part where both are; the rest of the base
    stays. It does not require equal sizes (the module-level function does)."""
    h, w = min(base.shape[0], overlay.shape[0]), min(base.shape[1], overlay.shape[1])
    top, under = overlay[:h, :w], base[:h, :w]
    ta, ua = top[..., 3:], under[..., 3:]
    alpha = ta + ua * (1 - ta)
    colour = top[..., :3] * ta + under[..., :3] * ua * (1 - ta)
    colour = np.where(alpha > 0, colour / np.where(alpha > 0, alpha, 1), 0)
    out = base.copy()
    out[:h, :w] = np.concatenate([colour, alpha], axis=-1)
    return out


def uncrop(image: np.ndarray, size: tuple[int, int], paste_loc: tuple[int, ...]) -> np.ndarray:
    """The decoded crop put back: resized (mode 1) to the box and placed at its corner on a
    transparent canvas of ``size`` = (width, height)."""
    x, y, w, h = paste_loc
    canvas = np.zeros((size[1], size[0], 4), dtype=np.float32)
    _paste(canvas, _rgba(resize_image(1, image, w, h)), x, y)
    return canvas


def apply_overlay(image: np.ndarray, paste_loc: Any, overlay: Any) -> np.ndarray:
    """The final picture: with an overlay, the (uncropped) sample under the original's
    unmasked part."""
    if overlay is None:
        return image
    if paste_loc:
        base = uncrop(image, (overlay.shape[1], overlay.shape[0]), paste_loc)
    else:
        base = _rgba(image)
    return alpha_composite(base, overlay)[..., :3]


BLANK_MASK_COMMENT = "Inpaint only masked: the mask is blank; the job ran as plain img2img."


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
        self.seed_resize_from_h = -1
        self.seed_resize_from_w = -1
        self.paste_to: tuple[int, int, int, int] | None = None  # "Only masked": x, y, w, h
        self.overlay_images: list[np.ndarray] | None = None  # RGBA per batch image
        self.rng: Any = None  # process_images_inner's rng.ImageRNG for the current batch
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
        self.image_mask = None  # HxW (or HxWx3/4) array in [0, 1]
        self.latent_mask = None
        self.mask_round = True
        self.mask_blur = 0
        self.inpainting_mask_invert = 0
        self.inpaint_full_res = False  # "Only masked" (the API's default is True)
        self.inpaint_full_res_padding = 0
        self.inpainting_fill = 1  # 0 fill, 1 original, 2 latent noise, 3 latent nothing
        self.mask_for_overlay = None
        self.init_latent = None
        self.image_conditioning = None
        self.mask = None
        self.nmask = None
        super().__init__(**kwargs)

    def _prepare_mask(self) -> tuple[Any, Any]:
        """The host's mask steps before the pixels: binary, inverted, blurred, then either the
        "Only masked" crop box (returned) or the mask resized to the job's size."""
        image_mask = create_binary_mask(self.image_mask, round=self.mask_round)
        if self.inpainting_mask_invert:
            image_mask = 1 - image_mask
            self.extra_generation_params["Mask mode"] = "Inpaint not masked"
        if self.mask_blur > 0:
            image_mask = blur_mask(image_mask, self.mask_blur)
            self.extra_generation_params["Mask blur"] = self.mask_blur
        crop_region = None
        if self.inpaint_full_res:
            self.mask_for_overlay = image_mask
            box = mask_bounding_box(image_mask, self.inpaint_full_res_padding)
            if box is None:
                image_mask = None
                self.mask_for_overlay = None
                self.inpaint_full_res = False
                self.comment(BLANK_MASK_COMMENT)
            else:
                height, width = image_mask.shape
                crop_region = expand_to_aspect(box, self.width, self.height, width, height)
                x1, y1, x2, y2 = crop_region
                image_mask = resize_image(2, image_mask[y1:y2, x1:x2], self.width, self.height)
                self.paste_to = (x1, y1, x2 - x1, y2 - y1)
                self.extra_generation_params["Inpaint area"] = "Only masked"
                self.extra_generation_params["Masked area padding"] = self.inpaint_full_res_padding
        else:
            image_mask = resize_image(self.resize_mode, image_mask, self.width, self.height)
            self.mask_for_overlay = np.clip(image_mask * 2, 0, 1)
        self.overlay_images = []
        return image_mask, crop_region

    def init(self, all_prompts: list[str], all_seeds: list[int], all_subseeds: list[int]) -> None:
        self.extra_generation_params["Denoising strength"] = self.denoising_strength
        self.sampler = sd_samplers.create_sampler(self.sampler_name, self.sd_model)
        image_mask, crop_region = None, None
        if self.image_mask is not None:
            image_mask, crop_region = self._prepare_mask()
        latent_mask = self.latent_mask if self.latent_mask is not None else image_mask
        if HOST.forge and self.scripts is not None:
            self.scripts.before_process_init_images(
                self, {"crop_region": crop_region, "image_mask": image_mask}
            )
        pixels = []
        for image in self.init_images:
            image = np.asarray(image, dtype=np.float32)[..., :3]
            if crop_region is None and self.resize_mode != 3:  # mode 3 keeps the picture's size
                image = resize_image(self.resize_mode, image, self.width, self.height)
            if image_mask is not None:
                if self.mask_for_overlay.shape[:2] != image.shape[:2]:
                    height, width = image.shape[:2]
                    self.mask_for_overlay = resize_image(
                        self.resize_mode, self.mask_for_overlay, width, height
                    )
                self.overlay_images.append(overlay_image(image, self.mask_for_overlay))
            if crop_region is not None:
                x1, y1, x2, y2 = crop_region
                image = resize_image(2, image[y1:y2, x1:x2], self.width, self.height)
            if image_mask is not None and self.inpainting_fill != 1:
                image = fill_masked(image, latent_mask)  # fills 2 and 3 too, as the host does
                if self.inpainting_fill == 0:
                    self.extra_generation_params["Masked content"] = "fill"
            pixels.append(image)
        if len(pixels) == 1:
            pixels = pixels * self.batch_size
            if self.overlay_images is not None:
                self.overlay_images = self.overlay_images * self.batch_size
        elif len(pixels) <= self.batch_size:
            self.batch_size = len(pixels)
        else:
            raise RuntimeError(f"{len(pixels)} init images for a batch of {self.batch_size}")
        image = torch.from_numpy(np.stack(pixels)).permute(0, 3, 1, 2)  # [B, 3, H, W] in [0, 1]
        image = image.to(dtype=torch.float32 if HOST.forge else devices.dtype_vae)
        self.init_latent = images_tensor_to_samples(image, None, self.sd_model)
        if self.resize_mode == 3:
            self.init_latent = torch.nn.functional.interpolate(
                self.init_latent,
                size=(self.height // opt_f, self.width // opt_f),
                mode=RESIZE_INTERPOLATION,
            )
        if image_mask is not None:
            mask_tensor = torch.as_tensor(np.asarray(latent_mask, dtype=np.float32))[None, None]
            mask_tensor = mask_tensor.to(self.init_latent.device)
            latmask = torch.nn.functional.interpolate(mask_tensor, size=self.init_latent.shape[2:])
            if self.mask_round:
                latmask = latmask.round()
            channels = self.init_latent.shape[1] if HOST.mask_channels_from_latent else 4
            latmask = latmask[0].expand(channels, -1, -1)
            self.mask = (1.0 - latmask).to(self.init_latent.dtype)
            self.nmask = latmask.to(self.init_latent.dtype)
            if self.inpainting_fill == 2:  # per-seed noise for the first batch's seeds
                shape = self.init_latent.shape[1:]
                gens = [torch.Generator().manual_seed(int(s)) for s in all_seeds[: len(pixels)]]
                noise = torch.stack([torch.randn(shape, generator=g) for g in gens])
                noise = noise.to(self.init_latent.device, self.init_latent.dtype)
                self.init_latent = self.init_latent * self.mask + noise * self.nmask
                self.extra_generation_params["Masked content"] = "latent noise"
            elif self.inpainting_fill == 3:
                self.init_latent = self.init_latent * self.mask
                self.extra_generation_params["Masked content"] = "latent nothing"
        self.image_conditioning = self.img2img_image_conditioning(
            image * 2 - 1, self.init_latent, image_mask, self.mask_round
        )

    def _inpainting_model(self) -> bool:
        if HOST.forge:
            return bool(getattr(self.sd_model, "is_inpaint", False))
        model = getattr(self.sd_model, "model", None)
        return getattr(model, "conditioning_key", "crossattn") in {"hybrid", "concat"}

    def img2img_image_conditioning(
        self, source: Any, latent: torch.Tensor, mask: Any = None, round_mask: bool = True
    ) -> Any:
        """Inpainting models: the host's [B, 1 + C, h, w]; ordinary ones a dummy sized by batch
        (the stub also keeps the mask at latent size, nearest, in ``conditioning_mask``)."""
        if self._inpainting_model():
            return self.inpainting_image_conditioning(source, latent, mask, round_mask)
        if mask is not None:
            mask_tensor = torch.as_tensor(np.asarray(mask, dtype=np.float32))[None, None]
            self.conditioning_mask = torch.nn.functional.interpolate(
                mask_tensor, size=latent.shape[-2:]
            )
        return latent.new_zeros(latent.shape[0], 5, 1, 1)

    def inpainting_image_conditioning(
        self, source: Any, latent: torch.Tensor, mask: Any = None, round_mask: bool = True
    ) -> torch.Tensor:
        """The mask (ones without one) blanks the source picture ([-1, 1], at its own size)
        by ``opts.inpainting_mask_weight``; the fake VAE encodes it; the mask goes to the
        latent's size (nearest) in front. A mask or an encoded picture of another size fails in
        torch, as in the host."""
        if mask is not None:
            cmask = torch.as_tensor(np.asarray(mask, dtype=np.float32))[None, None]
            if round_mask:
                cmask = cmask.round()
        else:
            cmask = source.new_ones(1, 1, *source.shape[-2:])
        cmask = cmask.to(device=source.device, dtype=source.dtype)
        weight = shared.opts.inpainting_mask_weight
        blanked = torch.lerp(source, source * (1.0 - cmask), weight)
        encoded = self.sd_model.encode((blanked + 1) / 2)  # the stub VAE takes [0, 1]
        cmask = torch.nn.functional.interpolate(cmask, size=latent.shape[-2:])
        self.conditioning_mask = cmask
        cmask = cmask.to(encoded.device).expand(encoded.shape[0], -1, -1, -1)
        return torch.cat([cmask, encoded.to(cmask.dtype)], dim=1)

    def sample(
        self,
        conditioning: Any,
        unconditional_conditioning: Any,
        seeds: list[int],
        subseeds: Any = None,
        subseed_strength: float = 0.0,
        prompts: Any = None,
        **_: Any,
    ) -> Any:
        if self.rng is not None:
            x = self.rng.next()
        else:  # hosts before ImageRNG (< 1.6) drew the same per-seed noise inline
            shape = (latent_channels(self.sd_model), self.height // opt_f, self.width // opt_f)
            gens = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
            x = torch.stack([torch.randn(shape, generator=g) for g in gens]).to(shared.device)
        # the hosts' runner always has the hook; a test's minimal runner may lack it
        hook = getattr(self.scripts, "process_before_every_sampling", None)
        if HOST.before_every_sampling and hook is not None:
            hook(p=self, x=self.init_latent, noise=x, c=conditioning, uc=unconditional_conditioning)
        samples = self.sampler.sample_img2img(
            self, self.init_latent, x, conditioning, unconditional_conditioning,
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
        state = shared.state
        if not state.processing_has_refined_job_count:  # both passes count, as in the host
            if state.job_count == -1:
                state.job_count = self.n_iter
            steps = self.steps + (self.hr_second_pass_steps or self.steps)
            shared.total_tqdm.updateTotal(steps * state.job_count)
            state.job_count = state.job_count * 2
            state.processing_has_refined_job_count = True
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

    def txt2img_image_conditioning(self, x: torch.Tensor) -> torch.Tensor:
        """Inpainting models: a mask of ones in front of the encoded mid-grey picture at the
        latent's size; others the [B, 5, 1, 1] dummy."""
        model = self.sd_model
        if not getattr(model, "inpainting", False):
            return x.new_zeros(x.shape[0], 5, 1, 1)
        grey = torch.full((x.shape[0], 3, x.shape[2] * opt_f, x.shape[3] * opt_f), 0.5)
        encoded = model.encode(grey).to(x.device)
        return torch.cat([torch.ones_like(encoded[:, :1]), encoded], dim=1)

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
        image_conditioning = self.txt2img_image_conditioning(samples)
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
    def __init__(
        self,
        p: StableDiffusionProcessing,
        images: list[Any],
        infotexts: list[str],
        pixels: list[np.ndarray] | None = None,
    ):
        self.images = images  # the latents, as the stub always returned them
        self.pixels = pixels if pixels is not None else []  # HxWx3 in [0, 1], overlay applied
        self.infotexts = infotexts
        self.info = infotexts[0] if infotexts else ""
        self.extra_generation_params = p.extra_generation_params
        self.comments = "\n".join(p.comments)
        log = vars(p).get(JOB_LOG)
        if log is None:  # process_images_inner called without process_images
            log = getattr(getattr(p, "sampler", None), "runs", [])
        self.sampler_runs = list(log)  # every sampler run of the job, in order


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


JOB_LOG = "stub_sampler_runs"  # the job's list of sampler runs on p (the samplers append)
_jobs = threading.local()  # process_images nesting per thread (ADetailer runs jobs inside one)


def process_images(p: StableDiffusionProcessing) -> Processed:
    """A job: the state is begun (as the UI's wrapper does) only for an outermost job; nested
    ones (ADetailer's) go on counting in the outer job's state, as in the hosts."""
    depth = getattr(_jobs, "depth", 0)
    if depth == 0:
        shared.state.begin(job="process_images")
        shared.total_tqdm.clear()
    vars(p)[JOB_LOG] = []
    _jobs.depth = depth + 1
    try:
        if p.scripts is not None:
            p.scripts.before_process(p)
        if HOST.schedulers is not None and len(HOST.schedulers) > 6:
            sd_samplers.fix_p_invalid_sampler_and_scheduler(p)
        return process_images_inner(p)
    finally:
        _jobs.depth = depth


def _final_pixels(p: StableDiffusionProcessing, index: int, decoded: torch.Tensor) -> np.ndarray:
    """One decoded image as the host returns it: with the overlay pasted back when there is
    one (``opts.overlay_inpaint``)."""
    image = decoded.permute(1, 2, 0).float().cpu().numpy()
    overlays = getattr(p, "overlay_images", None)
    overlay = None
    if shared.opts.overlay_inpaint and overlays is not None and index < len(overlays):
        overlay = overlays[index]
    return apply_overlay(image, getattr(p, "paste_to", None), overlay)


def process_images_inner(p: StableDiffusionProcessing) -> Processed:
    p.all_prompts = [p.prompt] * (p.batch_size * p.n_iter)
    p.all_seeds = [int(p.seed) + i for i in range(len(p.all_prompts))]
    p.all_subseeds = list(p.all_seeds)
    if p.scripts is not None:
        p.scripts.process(p)
    state = shared.state
    images: list[Any] = []
    pixels: list[np.ndarray] = []
    infotexts: list[str] = []
    with torch.no_grad():
        with devices.autocast():  # as the hosts do: init (encode, resize) under autocast
            p.init(p.all_prompts, p.all_seeds, p.all_subseeds)
        if state.job_count == -1:
            state.job_count = p.n_iter
        for n in range(p.n_iter):
            p.iteration = n
            if state.skipped:
                state.skipped = False
            if state.interrupted or state.stopping_generation:
                break
            batch = slice(n * p.batch_size, (n + 1) * p.batch_size)
            p.prompts = p.all_prompts[batch]
            p.seeds = p.all_seeds[batch]
            p.subseeds = p.all_subseeds[batch]
            image_rng = getattr(rng, "ImageRNG", None)  # a test may take it away (< 1.6)
            p.rng = None
            if image_rng is not None:
                p.rng = image_rng(
                    (latent_channels(p.sd_model), p.height // opt_f, p.width // opt_f),
                    p.seeds,
                    subseeds=p.subseeds,
                    subseed_strength=p.subseed_strength,
                    seed_resize_from_h=p.seed_resize_from_h,
                    seed_resize_from_w=p.seed_resize_from_w,
                )
            with devices.autocast():
                samples = p.sample(
                    conditioning=None,
                    unconditional_conditioning=None,
                    seeds=p.seeds,
                    subseeds=p.subseeds,
                    subseed_strength=p.subseed_strength,
                    prompts=p.prompts,
                )
            decoded = p.sd_model.decode(samples)
            state.nextjob()
            if state.on_postprocess is not None:
                state.on_postprocess(p)
            for i, sample in enumerate(samples):
                images.append(sample)
                pixels.append(_final_pixels(p, i, decoded[i]))
                infotexts.append(create_infotext(p))
    return Processed(p, images, infotexts, pixels)


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
