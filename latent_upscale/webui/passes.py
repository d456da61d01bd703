"""Upscale by a factor in several latent passes, inside one img2img job.

The host's own pieces do the work, as in txt2img's Hires. fix pass: its ``init`` encodes the
picture (and prepares the mask, overlay and conditioning), its ``sample`` denoises; this module
only decides each pass's size and strength and carries the latent from one pass to the next:

- ``prepare`` (from the init hook): the pass sizes; the host's init runs at pass 1's size (its
  latent resize is redirected to the chosen method as in a one-pass job), or, for a job with a
  mask, at the picture's own size so that the host's mask, fill, overlay and conditioning all
  agree; the overlay then follows to the final size. ``p.width``/``p.height`` say the final
  size for the rest of the job (infotext, other extensions).
- ``sample`` (from the sample hook): per pass, the latent resized with the chosen method, the
  latent mask and image conditioning resized with it, fresh noise from the host's ``ImageRNG``
  with the job's seeds (the rule of Hires. fix: every pass draws from the image's own seed at
  its own size), a new sampler from the host's ``create_sampler`` for later passes, and the
  host's ``sample`` at the pass's denoise; progress counts every pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from latent_upscale.interpolation import upscale
from latent_upscale.options import Settings
from latent_upscale.passes import pass_sizes, scaled_size
from latent_upscale.steps import check_schedule_length, runs_full_steps
from latent_upscale.webui.common import LOG_PREFIX, log

Size = tuple[int, int]  # (width, height) in pixels
# what the host's init leaves on p and each pass replaces at its size
PASS_FIELDS = ("init_latent", "mask", "nmask", "image_conditioning")


@dataclasses.dataclass
class JobPasses:
    """One job's passes: sizes, strengths, and what the host's init made."""

    method: str
    sizes: list[Size]  # per pass, the last is the target
    strengths: list[float]  # denoise per pass
    source: Size  # the init image's size
    masked: bool  # the host's init ran at the source size; pass 1 resizes as well
    full_steps: bool  # the job's full-steps rule (the script's choice or the WebUI's setting)
    base: dict[str, Any] = dataclasses.field(default_factory=dict)  # after the host's init

    @property
    def target(self) -> Size:
        return self.sizes[-1]


def image_size(image: Any) -> Size:
    """(width, height) of a PIL image or an HxWxC array."""
    size = getattr(image, "size", None)
    if isinstance(size, tuple) and len(size) == 2:
        return int(size[0]), int(size[1])
    shape = getattr(image, "shape", None)
    if shape is not None and len(shape) >= 2:
        return int(shape[1]), int(shape[0])
    raise ValueError(f"{LOG_PREFIX} cannot tell the size of the init image {type(image)!r}")


def target_size(p: Any, settings: Settings) -> Size:
    """The size the job returns: the init image times "Upscale by", or the job's own size."""
    if settings.scale:
        images = getattr(p, "init_images", None) or []
        if not images:
            raise ValueError(f"{LOG_PREFIX} upscale by {settings.scale:g} needs an init image.")
        return scaled_size(image_size(images[0]), settings.scale)
    return int(p.width), int(p.height)


def needs_passes(p: Any, settings: Settings, latent_resize: bool) -> bool:
    """Whether the job runs the pass machinery: a factor, more passes, or a mask."""
    if not latent_resize:
        return False
    return settings.multipass or getattr(p, "image_mask", None) is not None


def missing_points() -> list[str]:
    """The host functions the passes reuse that this WebUI lacks (empty where all are there)."""
    import importlib

    points = {
        "modules.rng.ImageRNG": ("modules.rng", "ImageRNG"),
        "modules.sd_samplers.create_sampler": ("modules.sd_samplers", "create_sampler"),
    }
    missing = []
    for name, (module, attr) in points.items():
        try:
            found = callable(getattr(importlib.import_module(module), attr, None))
        except ImportError:
            found = False
        if not found:
            missing.append(name)
    return missing


def plan(p: Any, settings: Settings, full_steps: bool) -> JobPasses:
    """The job's passes (their schedule lengths were checked before the job's init); refuses
    on a host without the functions a pass reuses."""
    lacking = missing_points()
    if lacking:
        raise RuntimeError(
            f"{LOG_PREFIX} this WebUI lacks {', '.join(lacking)}, which upscale by, passes and "
            "masks with a latent upscale reuse; run the job without them (Upscale by 0, "
            "1 pass, no mask), or update the WebUI (1.6 or later)."
        )
    source = image_size(p.init_images[0])
    target = target_size(p, settings)
    sizes = pass_sizes(source, target, settings.passes)
    fix = getattr(getattr(p, "sd_model", None), "fix_dimensions", None)
    if callable(fix):  # models that need other multiples (SD3 on A1111: 16)
        sizes = [tuple(int(v) for v in fix(w, h)) for w, h in sizes]
    strengths = [float(p.denoising_strength)] + [settings.later_denoise] * (len(sizes) - 1)
    masked = getattr(p, "image_mask", None) is not None
    return JobPasses(settings.method, sizes, strengths, source, masked, full_steps)


def host_init(p: Any, passes: JobPasses, init: Callable[[], Any]) -> Any:
    """Run the host's init at the size it must see, then leave ``p`` at the target size."""
    p.width, p.height = passes.source if passes.masked else passes.sizes[0]
    try:
        result = init()
    finally:
        p.width, p.height = passes.target
    passes.base = {name: getattr(p, name, None) for name in PASS_FIELDS}
    if passes.masked:
        _follow_overlay(p, passes)
    _count_progress(p, passes)
    return result


def describe(passes: JobPasses) -> str:
    """A console line: the sizes and strengths of the passes."""
    sizes = " -> ".join(f"{w}x{h}" for w, h in [passes.source, *passes.sizes])
    strengths = ", ".join(f"{d:g}" for d in passes.strengths)
    count = len(passes.sizes)
    return f"{count} pass{'es' if count > 1 else ''} {sizes} (denoise {strengths})"


# ---------------------------------------------------------------------------------------------
# Sampling


def sample(p: Any, passes: JobPasses, sample_once: Callable[[], torch.Tensor]) -> torch.Tensor:
    """All passes for the current batch; ``sample_once`` is the host's sample with our fields."""
    from modules import shared

    state = shared.state
    saved = {name: vars(p).get(name) for name in ("sampler", "rng", "width", "height")}
    saved_denoise = p.denoising_strength
    base = passes.base
    for name in PASS_FIELDS:  # each batch starts from what the host's init made; the
        setattr(p, name, base[name])  # last pass's fields stay, at the size p now says
    samples = base["init_latent"]
    done = 0
    try:
        for index, ((width, height), strength) in enumerate(
            zip(passes.sizes, passes.strengths, strict=True)
        ):
            if index > 0:
                if _stopped(state):
                    break
                state.nextjob()
            if index > 0 or passes.masked:
                _resize_fields(p, passes, samples, (height // 8, width // 8))
            p.rng = _noise(p, p.init_latent)  # the host made its own at the final size
            if index > 0:
                p.sampler = _new_sampler(p)
            p.width, p.height = width, height
            p.denoising_strength = strength
            samples = sample_once()
            done += 1
            log(f"pass {index + 1}/{len(passes.sizes)} at {width}x{height} done.")
    finally:
        for name, value in saved.items():
            setattr(p, name, value)
        p.denoising_strength = saved_denoise
    final = (passes.target[1] // 8, passes.target[0] // 8)
    if tuple(samples.shape[-2:]) != final:  # stopped before the last pass: the size asked for
        log(f"stopped after {done} of {len(passes.sizes)} passes; the latent is resized to "
            f"{passes.target[0]}x{passes.target[1]} without denoising.")  # fmt: skip
        samples = upscale(samples, final, passes.method)
    return samples


def _stopped(state: Any) -> bool:
    return bool(getattr(state, "interrupted", False) or getattr(state, "skipped", False))


def _resize_fields(p: Any, passes: JobPasses, latent: torch.Tensor, size: tuple[int, int]) -> None:
    """The pass's input latent, latent mask and image conditioning at ``size`` (h, w)."""
    base = passes.base
    p.init_latent = upscale(latent, size, passes.method)
    if base.get("nmask") is not None:
        rounded = bool(getattr(p, "mask_round", True))
        nmask = _resize_mask(base["nmask"], size, rounded)
        p.nmask = nmask
        p.mask = 1 - nmask
    p.image_conditioning = _resize_conditioning(
        base.get("image_conditioning"), base["init_latent"], size, passes.method, p
    )


def _resize_mask(mask: torch.Tensor, size: tuple[int, int], rounded: bool) -> torch.Tensor:
    """A latent mask (any leading dims, equal channels) at ``size``: bilinear from the host's
    own latent mask, rounded to 0/1 where the host rounds it."""
    plane = mask.reshape(-1, *mask.shape[-2:])[:1][None].float()
    plane = torch.nn.functional.interpolate(plane, size=size, mode="bilinear")
    if rounded:
        plane = plane.round()
    return plane[0].expand(*mask.shape[:-2], *size).to(mask.dtype).contiguous()


def _resize_conditioning(
    conditioning: Any, latent: torch.Tensor, size: tuple[int, int], method: str, p: Any
) -> Any:
    """The host's image conditioning at the pass's size where it is spatial (inpainting and
    depth models); the dummy of ordinary models stays as it is. An inpainting model's mask
    channel follows the latent mask; its encoded picture is resized like the latent."""
    if not isinstance(conditioning, torch.Tensor) or conditioning.dim() != 4:
        return conditioning
    if tuple(conditioning.shape[-2:]) != tuple(latent.shape[-2:]):
        return conditioning  # not laid out on the latent (the ordinary [B, 5, 1, 1] dummy)
    if conditioning.shape[1] == latent.shape[1] + 1:
        rounded = bool(getattr(p, "mask_round", True))
        mask = _resize_mask(conditioning[:, :1], size, rounded)
        return torch.cat([mask, upscale(conditioning[:, 1:], size, method)], dim=1)
    return upscale(conditioning, size, method)


def _noise(p: Any, latent: torch.Tensor) -> Any:
    """The host's noise generator for this pass: the job's seeds at the pass's latent size."""
    from modules import rng

    return rng.ImageRNG(
        tuple(latent.shape[1:]),
        p.seeds,
        subseeds=getattr(p, "subseeds", None),
        subseed_strength=getattr(p, "subseed_strength", 0.0),
        seed_resize_from_h=getattr(p, "seed_resize_from_h", 0),
        seed_resize_from_w=getattr(p, "seed_resize_from_w", 0),
    )


def _new_sampler(p: Any) -> Any:
    """A fresh sampler for a later pass, as the host's Hires. fix pass makes one."""
    from modules import sd_samplers

    return sd_samplers.create_sampler(p.sampler_name, p.sd_model)


# ---------------------------------------------------------------------------------------------
# Overlay and progress


def _follow_overlay(p: Any, passes: JobPasses) -> None:
    """The pixels the host pastes back after sampling, at the final size: the overlay (the
    picture outside the mask) and the overlay mask resized, an "Only masked" box scaled."""
    (w0, h0), (w1, h1) = passes.source, passes.target
    overlays = getattr(p, "overlay_images", None)
    if overlays:
        p.overlay_images = [_resize_image(image, (w1, h1)) for image in overlays]
    if getattr(p, "mask_for_overlay", None) is not None:
        p.mask_for_overlay = _resize_image(p.mask_for_overlay, (w1, h1))
    box = getattr(p, "paste_to", None)
    if box is not None:
        x, y, w, h = box
        fx, fy = w1 / w0, h1 / h0
        p.paste_to = (round(x * fx), round(y * fy), round(w * fx), round(h * fy))


def _resize_image(image: Any, size: Size) -> Any:
    """A PIL image (or an HxW[xC] array) resized to ``size`` = (width, height), Lanczos."""
    if hasattr(image, "resize") and hasattr(image, "mode"):
        from PIL import Image

        return image.resize(size, Image.LANCZOS)
    array = torch.as_tensor(image)
    planar = array.float()[None, None] if array.dim() == 2 else array.float().permute(2, 0, 1)[None]
    out = torch.nn.functional.interpolate(
        planar, size=(size[1], size[0]), mode="bicubic", antialias=True
    )
    out = out[0, 0] if array.dim() == 2 else out[0].permute(1, 2, 0)
    if not array.is_floating_point():
        out = out.round().clamp(0, 255)
    return out.to(array.dtype).numpy()


def _count_progress(p: Any, passes: JobPasses) -> None:
    """The host's progress counters for every pass, as its Hires. fix refines them."""
    from modules import shared

    count = len(passes.sizes)
    state = shared.state
    if count < 2 or getattr(state, "processing_has_refined_job_count", True):
        return
    if state.job_count == -1:
        state.job_count = p.n_iter
    steps = 0
    for strength in passes.strengths:
        full = runs_full_steps(passes.full_steps, strength)
        steps += check_schedule_length(p.steps, strength, full)[1] + 1  # t_enc + 1 run
    tqdm = getattr(shared, "total_tqdm", None)
    if tqdm is not None:
        tqdm.updateTotal(steps * state.job_count)
    state.job_count = state.job_count * count
    state.processing_has_refined_job_count = True
