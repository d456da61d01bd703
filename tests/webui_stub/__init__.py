"""A stub WebUI for the host adapter's tests: ``modules.*`` shaped like the real hosts.

``install_host(monkeypatch, shape)`` puts a fresh ``modules`` package (built from the files in
``host/``, configured by a :class:`HostShape`) into ``sys.modules``, loads the extension's
``scripts/latent_upscale.py`` and the X/Y/Z script the way the WebUI loads scripts, and returns a
:class:`StubHost` to drive jobs. monkeypatch undoes all of it after the test.

What the stub reproduces is what the hooks touch, per the hosts notes (webui-hosts.md): the
img2img ``init`` around the latent resize, the k-diffusion ``get_sigmas`` order and the
``sample_img2img`` slicing, ``setup_img2img_steps``, the timestep samplers, txt2img with the
Hires. fix (``latent_upscale_modes``, ``sample_hr_pass``, the upscaler dropdown), infotext
creation and pasting, the script runner, the X/Y/Z axis classes and the script callbacks.

For jobs that sample more than once it also has the hosts' per-job pieces (A1111 1.10.1 rules):
``modules.rng.ImageRNG`` (``p.rng`` made per batch after ``init``, img2img noise from it),
``shared.state`` job/step counters with ``begin``/``nextjob``/``skip``, ``shared.total_tqdm``,
``process_before_every_sampling`` (1.10+, Forge family), img2img masks (blur, invert, "Only
masked" crop and ``paste_to``, fills, ``mask_for_overlay``, ``overlay_images``), inpainting
models' image conditioning (``StubModel(inpainting=True)``), and decoded pixels with the
overlay pasted back (``Processed.pixels``). ``Processed.sampler_runs`` lists every sampler run
of the job in order, each with the noise, size, denoise, conditioning, mask and job counters it
saw. See ``host/processing.py`` for what is simplified (resampling, blur, fill).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
import types
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
HOST_DIR = HERE / "host"
REPO = HERE.parent.parent
ENTRY_SCRIPT = REPO / "scripts" / "latent_upscale.py"

# the WebUI 1.10 scheduler list (name, label), in UI order
SCHEDULERS_1_9 = (
    ("automatic", "Automatic"),
    ("uniform", "Uniform"),
    ("karras", "Karras"),
    ("exponential", "Exponential"),
    ("polyexponential", "Polyexponential"),
    ("sgm_uniform", "SGM Uniform"),
)
SCHEDULERS_1_10 = (
    *SCHEDULERS_1_9,
    ("kl_optimal", "KL Optimal"),
    ("align_your_steps", "Align Your Steps"),
    ("simple", "Simple"),
    ("normal", "Normal"),
    ("ddim", "DDIM"),
    ("beta", "Beta"),
)
SCHEDULERS_FORGE = (
    *SCHEDULERS_1_10,
    ("turbo", "Turbo"),
    ("align_your_steps_GITS", "Align Your Steps GITS"),
    ("align_your_steps_11", "Align Your Steps 11"),
    ("align_your_steps_32", "Align Your Steps 32"),
)


@dataclasses.dataclass(frozen=True)
class HostShape:
    """What differs between the hosts at the points the extension touches."""

    name: str
    schedulers: tuple[tuple[str, str], ...] | None  # per-job schedulers (1.9+), else k_sched_type
    infotext_module: str  # "generation_parameters_copypaste" (1.6/1.7) or "infotext_utils"
    copypaste_alias: bool  # 1.8+ keeps the old module name as an alias (Classic does not)
    forge: bool = False  # ForgeScheduleLinker table, forge_objects, before_process_init_images
    reforge: bool = False  # reForge: "Beta" and "Align Your Steps" mean other schedules
    sigmas_on_cpu: bool = False  # 1.10+ / Forge: get_sigmas returns .cpu()
    mask_channels_from_latent: bool = False  # 1.10+ / Forge tile the mask to C, older to 4
    sys_path_permanent: bool = False  # Forge family keeps extension roots on sys.path
    ddim_cfgpp: bool = False  # 1.10+ has "DDIM CFG++"
    karras_sampler_names: bool = True  # <= 1.8: "DPM++ 2M Karras" is its own sampler
    callback_names: bool = False  # 1.9+: on_* callbacks take name=
    before_every_sampling: bool = False  # 1.10+ / Forge: img2img sample calls the scripts'
    # process_before_every_sampling
    gradio: str = "3.41.2"


SHAPES: dict[str, HostShape] = {
    s.name: s
    for s in (
        HostShape("a1111-1.7", None, "generation_parameters_copypaste", False),
        HostShape("a1111-1.8", None, "infotext_utils", True),
        HostShape(
            "a1111-1.9",
            SCHEDULERS_1_9,
            "infotext_utils",
            True,
            karras_sampler_names=False,
            callback_names=True,
        ),
        HostShape(
            "a1111-1.10",
            SCHEDULERS_1_10,
            "infotext_utils",
            True,
            sigmas_on_cpu=True,
            mask_channels_from_latent=True,
            ddim_cfgpp=True,
            karras_sampler_names=False,
            callback_names=True,
            before_every_sampling=True,
        ),
        HostShape(
            "forge",
            SCHEDULERS_FORGE,
            "infotext_utils",
            True,
            forge=True,
            sigmas_on_cpu=True,
            mask_channels_from_latent=True,
            sys_path_permanent=True,
            ddim_cfgpp=True,
            karras_sampler_names=False,
            callback_names=True,
            before_every_sampling=True,
            gradio="4.40.0",
        ),
    )
}
# reForge main: Forge's shape with Gradio 3 and its own "Beta" and "Align Your Steps"
SHAPES["reforge"] = dataclasses.replace(
    SHAPES["forge"], name="reforge", reforge=True, gradio="3.41.2"
)
# the shapes most tests run on: A1111 1.6-1.8, 1.9, 1.10, Forge main, reForge main
MAIN_SHAPES = ("a1111-1.7", "a1111-1.9", "a1111-1.10", "forge", "reforge")

# stub files in load order (each may import the ones before it)
_MODULE_FILES = (
    "shared",
    "devices",
    "rng",
    "sd_samplers_common",
    "sd_schedulers",
    "sd_samplers_kdiffusion",
    "sd_samplers_timesteps",
    "sd_samplers",
    "script_callbacks",
    "scripts",
    "infotext_utils",
    "processing",
    "ui",
)


def _load(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _forget(monkeypatch: Any, prefixes: tuple[str, ...]) -> None:
    """Drop modules (and their attribute on the parent package) so the next import is fresh."""
    for name in list(sys.modules):
        if name in prefixes or name.startswith(tuple(f"{p}." for p in prefixes)):
            monkeypatch.delitem(sys.modules, name)
            parent, _, child = name.rpartition(".")
            if parent in sys.modules:
                monkeypatch.delattr(sys.modules[parent], child, raising=False)


def install_modules(monkeypatch: Any, shape: HostShape, *, fake_gradio: bool = True) -> Any:
    """A fresh ``modules`` package for ``shape`` in ``sys.modules`` (undone by monkeypatch)."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    _forget(monkeypatch, ("modules", "latent_upscale.webui", "latent_upscale.ui"))
    if fake_gradio:
        _forget(monkeypatch, ("gradio",))
        monkeypatch.setitem(sys.modules, "gradio", _load("gradio", HERE / "fake_gradio.py"))
    package = types.ModuleType("modules")
    package.__path__ = []  # a package with nothing else to find: absent modules stay absent
    package.HOST = shape
    monkeypatch.setitem(sys.modules, "modules", package)
    for file in _MODULE_FILES:
        if file == "sd_schedulers" and shape.schedulers is None:
            continue
        name = shape.infotext_module if file == "infotext_utils" else file
        monkeypatch.setitem(sys.modules, f"modules.{name}", None)  # registered for undo
        module = _load(f"modules.{name}", HOST_DIR / f"{file}.py")
        setattr(package, name, module)
    if shape.infotext_module == "infotext_utils" and shape.copypaste_alias:
        alias = sys.modules["modules.infotext_utils"]
        monkeypatch.setitem(sys.modules, "modules.generation_parameters_copypaste", alias)
    return package


@dataclasses.dataclass
class StubHost:
    """A stubbed WebUI with the extension (optionally) loaded."""

    shape: HostShape
    modules: Any
    script: Any = None  # the extension's Script instance (img2img)
    runner: Any = None  # the img2img ScriptRunner
    xyz: Any = None  # the X/Y/Z script module
    txt2img_ui: Any = None  # the txt2img tab's Hires. fix controls

    @property
    def processing(self) -> Any:
        return self.modules.processing

    @property
    def shared(self) -> Any:
        return self.modules.shared

    @property
    def webui(self) -> Any:
        return sys.modules["latent_upscale.webui"]

    def load_extension(self) -> Any:
        """Load ``scripts/latent_upscale.py`` as the WebUI does (again on "Reload UI")."""
        return self.modules.scripts.load_script(ENTRY_SCRIPT, REPO)

    def start_ui(self) -> None:
        """What the WebUI does after loading scripts: runners, then the before-UI callbacks."""
        self.runner = self.modules.scripts.ScriptRunner()
        self.runner.initialize_scripts(is_img2img=True)
        self.modules.script_callbacks.before_ui_callback()
        import gradio

        with gradio.Blocks():
            self.txt2img_ui = self.modules.ui.create_txt2img_ui()
            self.runner.create_script_ui(is_img2img=True)
        for script in self.runner.selectable_scripts:
            if script.title() == "Latent Upscale":
                self.script = script

    def img2img(self, size: tuple[int, int] = (64, 48), **kwargs: Any) -> Any:
        """A fresh img2img job on a deterministic image of ``size`` = (height, width) pixels."""
        return self.processing.make_img2img(size, **kwargs)

    def txt2img(self, **kwargs: Any) -> Any:
        """A fresh txt2img job (64x48 pixels, 6 steps unless told); pass enable_hr=True etc."""
        return self.processing.make_txt2img(**kwargs)


def install_host(
    monkeypatch: Any, shape: HostShape | str, *, extension: bool = True, fake_gradio: bool = True
) -> StubHost:
    """A stub host of ``shape``; with ``extension`` the script and X/Y/Z are loaded, UI started."""
    shape = SHAPES[shape] if isinstance(shape, str) else shape
    host = StubHost(shape, install_modules(monkeypatch, shape, fake_gradio=fake_gradio))
    host.xyz = host.modules.scripts.load_script(HOST_DIR / "xyz_grid.py", HOST_DIR)
    if extension:
        host.load_extension()
    host.start_ui()
    return host


def shape_params() -> list[str]:
    """The host shapes to parametrize over (env LATENT_UPSCALE_STUB_SHAPES=all for every one)."""
    if os.environ.get("LATENT_UPSCALE_STUB_SHAPES") == "all":
        return list(SHAPES)
    return list(MAIN_SHAPES)


def assert_same(want: Any, got: Any, message: str = "") -> None:
    """Two sequences of job results are equal item by item (tensors bit for bit)."""
    for a, b in zip(want, got, strict=True):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b), message
        else:
            assert a == b, message


def encoded(p: Any) -> torch.Tensor:
    """The latent the stub host encodes from p's init image (batch_size copies), at its size."""
    import numpy as np

    images = [np.asarray(p.init_images[0])] * p.batch_size
    return p.sd_model.encode(torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2))
