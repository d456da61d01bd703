"""The script as the WebUI drives it: runner, infotext and paste, X/Y/Z, the API, loading."""

from __future__ import annotations

import configparser
import importlib.util
import sys
import types
from pathlib import Path

import pytest
import torch

from latent_upscale import METHODS, SCHEDULES, upscale
from tests.webui_stub import ENTRY_SCRIPT, REPO, install_host

SIZE = (64, 48)
TARGET = (9, 12)
AXES = (
    "[Latent Upscale] Method",
    "[Latent Upscale] Scheduler",
    "[Latent Upscale] Full steps",
    "[Latent Upscale] Upscale by",
    "[Latent Upscale] Passes",
    "[Latent Upscale] Later denoise",
)


def script_args(host, *args):
    """The img2img tab's argument list with our script selected, as the UI sends it."""
    inputs = host.runner.create_script_ui(True)
    script = host.script
    values = [c.value if c is not None else None for c in inputs]
    values[0] = host.runner.selectable_scripts.index(script) + 1
    values[script.args_from : script.args_from + len(args)] = args
    return values


def infotext_module(host):
    return sys.modules[f"modules.{host.shape.infotext_module}"]


def test_the_script_is_an_img2img_selectable_script(host):
    assert host.script is not None
    assert host.script.title() == "Latent Upscale"
    assert host.script.show(True) is True
    assert host.script.show(False) is False
    assert host.script not in host.runner.alwayson_scripts


def test_ui_defaults_are_valid_and_stable(host):
    controls = host.script.ui(True)
    again = host.script.ui(True)  # the API builds the UI again to collect defaults
    assert [c.value for c in controls] == [c.value for c in again]
    method, scheduler, full_steps, scale, passes, later = controls
    assert method.value == METHODS["nearest-exact"].label
    assert scheduler.value == SCHEDULES["simple"].label
    assert full_steps.value is True
    # the README's defaults: upscale by 0 (off), one pass, later passes at denoise 0.4
    assert (scale.value, passes.value, later.value) == (0, 1, 0.4)
    for slider in (scale, passes, later):
        assert slider.kwargs["minimum"] <= slider.value <= slider.kwargs["maximum"]
    assert method.value in method.choices
    assert scheduler.value in scheduler.choices
    assert "Automatic" in scheduler.choices
    assert all(c.kwargs.get("info") for c in controls)


def test_runner_run_returns_processed_with_the_chosen_method(host):
    p = host.img2img(SIZE)
    processed = host.runner.run(p, *script_args(host, "Bislerp", "Karras", False))
    assert processed.images
    images = torch.from_numpy(p.init_images[0])[None].permute(0, 3, 1, 2)
    assert torch.equal(p.init_latent, upscale(p.sd_model.encode(images), TARGET, "bislerp"))
    assert "Latent upscale full steps: False" in processed.info


def test_infotext_is_written_and_pasted_back(host):
    p = host.img2img(SIZE)
    processed = host.runner.run(p, *script_args(host, "Lanczos", "KL Optimal (ComfyUI)", False))
    info = processed.infotexts[0]
    assert "Latent upscale method: lanczos" in info
    assert "Latent upscale scheduler: kl_optimal_comfyui" in info
    assert "Latent upscale full steps: False" in info
    pasted = infotext_module(host).paste(host.script.infotext_fields, info)
    # the pass options are at their defaults: absent from the text, pasted as the defaults
    assert pasted == ["Lanczos", "KL Optimal (ComfyUI)", False, 0.0, 1, 0.4]
    again = host.runner.run(host.img2img(SIZE), *script_args(host, *pasted))
    assert again.infotexts == processed.infotexts


def test_pasting_an_image_without_our_keys_leaves_the_controls(host):
    info = "a prompt\nSteps: 20, Sampler: Euler, Seed: 1"
    assert infotext_module(host).paste(host.script.infotext_fields, info) == [None] * 6


def test_old_and_new_infotext_module_names(monkeypatch):
    for shape, old, new in (("a1111-1.7", True, False), ("a1111-1.10", True, True)):
        with monkeypatch.context() as mp:
            install_host(mp, shape)
            assert ("modules.generation_parameters_copypaste" in sys.modules) is old
            assert ("modules.infotext_utils" in sys.modules) is new


@pytest.mark.parametrize("scheduler", ["karras", "beta", "beta_comfyui", "align_your_steps"])
def test_schedule_type_stays_the_users_field(monkeypatch, scheduler):
    """The job's schedule is our override; "Schedule type" is the user's own, untouched field.

    Documented choice: the WebUI writes "Schedule type" from ``p.scheduler``, which other
    extensions' later passes (ADetailer's "use same scheduler") read, so it is never changed;
    "Latent upscale scheduler" names the schedule the img2img sampling ran.
    """
    for shape in ("a1111-1.9", "a1111-1.10", "forge"):
        with monkeypatch.context() as mp:
            host = install_host(mp, shape)
            p = host.img2img(SIZE, scheduler="Exponential")
            processed = host.webui.run_job(p, host.webui.Settings(scheduler=scheduler))
            assert "Schedule type: Exponential" in processed.info
            assert f"Latent upscale scheduler: {scheduler}" in processed.info
            assert p.scheduler == "Exponential"
            assert p.sampler_noise_scheduler_override is None


def test_stale_host_schedule_entries_are_dropped_when_we_override(host):
    p = host.img2img(SIZE)
    p.extra_generation_params.update({"Schedule type": "Karras", "Schedule rho": 5.0})
    processed = host.webui.run_job(p, host.webui.Settings(scheduler="beta_comfyui"))
    assert "Schedule type" not in processed.info
    assert "Schedule rho" not in processed.info
    kept = p.extra_generation_params  # the user's dict: untouched but for the host's own entries
    assert kept["Schedule type"] == "Karras"
    assert kept["Schedule rho"] == 5.0
    assert not any(k.startswith("Latent upscale") for k in kept)


def test_old_hosts_do_not_report_their_global_schedule_type(monkeypatch):
    host = install_host(monkeypatch, "a1111-1.7")
    host.shared.opts._stub_set("k_sched_type", "karras")
    plain = host.processing.process_images(host.img2img(SIZE))
    assert "Schedule type: karras" in plain.info
    ours = host.webui.run_job(host.img2img(SIZE), host.webui.Settings(scheduler="exponential"))
    assert "Schedule type" not in ours.info
    assert "Latent upscale scheduler: exponential" in ours.info


# ---------------------------------------------------------------------------------------------
# X/Y/Z plot


def xyz_script(host):
    return next(s for s in host.runner.selectable_scripts if s.title() == "X/Y/Z plot")


def test_xyz_axes_are_registered_once_with_the_plots_own_class(host):
    host.load_extension()  # "Reload UI": the script file runs again, callbacks registered again
    host.start_ui()
    host.start_ui()
    labels = [a.label for a in host.xyz.axis_options]
    for label in AXES:
        assert labels.count(label) == 1
    ours = [a for a in host.xyz.axis_options if a.label in AXES]
    assert all(type(a) is host.xyz.AxisOptionImg2Img for a in ours)
    assert [a.choices() for a in ours[:3]] == [
        [m.label for m in METHODS.values()],
        [s.label for s in SCHEDULES.values()],
        ["True", "False"],
    ]
    assert [(a.type, a.choices) for a in ours[3:]] == [(float, None), (int, None), (float, None)]


def test_xyz_axes_are_registered_at_load_for_api_only_servers(host):
    # --nowebui builds the plot script's UI without running on_before_ui: the axes must be
    # there as soon as the extension's script has loaded (the plot script loads first)
    host.xyz.axis_options[:] = [a for a in host.xyz.axis_options if a.label not in AXES]
    host.load_extension()
    assert [a.label for a in host.xyz.axis_options if a.label in AXES] == list(AXES)


def test_xyz_method_axis_runs_each_cell_with_its_method(host):
    p = host.img2img(SIZE, steps=10, denoising_strength=0.5)
    plain = host.processing.process_images(host.img2img(SIZE, steps=10, denoising_strength=0.5))
    cells = xyz_script(host).run(p, AXES[0], ["Bislerp", "area", "Nearest (exact)", "bilinear"])
    for cell, method in zip(cells, ["bislerp", "area", "nearest-exact", "bilinear"], strict=True):
        assert f"Latent upscale method: {method}" in cell.info
        # the other fields keep the WebUI's behaviour: its schedule and step rule
        assert "Latent upscale scheduler: automatic" in cell.info
        assert "Latent upscale full steps: False" in cell.info
        assert torch.equal(cell.sampler_runs[0]["sigmas"], plain.sampler_runs[0]["sigmas"])
    assert torch.equal(cells[3].images[0], plain.images[0])  # bilinear: the host's own resize
    assert not hasattr(p, host.webui.ATTR)
    assert p.sampler_noise_scheduler_override is None
    assert not any(k.startswith("Latent upscale") for k in p.extra_generation_params)


def test_xyz_scheduler_and_steps_axes(host):
    p = host.img2img(SIZE, steps=10, denoising_strength=0.5)
    cells = xyz_script(host).run(p, AXES[1], ["Karras", "beta_comfyui"])
    assert "Latent upscale scheduler: karras" in cells[0].info
    assert "Latent upscale scheduler: beta_comfyui" in cells[1].info
    assert cells[0].sampler_runs[0]["sigmas"][0] != cells[1].sampler_runs[0]["sigmas"][0]
    steps = xyz_script(host).run(p, AXES[2], ["True", "False"])
    assert [len(c.sampler_runs[0]["sigmas"]) - 1 for c in steps] == [10, 6]


def test_xyz_rejects_unknown_values_with_the_valid_names(host):
    with pytest.raises(ValueError, match="valid methods: nearest"):
        xyz_script(host).run(host.img2img(SIZE), AXES[0], ["bilinear", "trilinear"])
    with pytest.raises(ValueError, match="true or false"):
        xyz_script(host).run(host.img2img(SIZE), AXES[2], ["maybe"])


def test_a_missing_xyz_script_is_not_an_error(monkeypatch, capsys):
    host = install_host(monkeypatch, "a1111-1.10")
    host.modules.scripts.scripts_data[:] = [
        d for d in host.modules.scripts.scripts_data if not d.path.endswith("xyz_grid.py")
    ]
    assert host.webui.register_xyz_axes() is False
    assert "X/Y/Z plot script not found" in capsys.readouterr().out


def test_xyz_is_found_by_its_1_9_1_module_name(monkeypatch):
    host = install_host(monkeypatch, "a1111-1.9")
    data = host.modules.scripts.scripts_data
    for i, d in enumerate(data):
        if d.path.endswith("xyz_grid.py"):
            d.script_class.__module__ = "scripts.xyz_grid"
            data[i] = d._replace(path="/elsewhere/renamed.py")
    assert host.webui.register_xyz_axes() is True


# ---------------------------------------------------------------------------------------------
# HTTP API


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], ("nearest-exact", "simple", True)),
        ([None, None, None], ("nearest-exact", "simple", True)),
        (["bislerp"], ("bislerp", "simple", True)),
        (["BISLERP", "karras", "false"], ("bislerp", "karras", False)),
        ([None, "Align Your Steps", 0], ("nearest-exact", "align_your_steps", False)),
    ],
)
def test_api_arguments(host, args, expected):
    p = host.img2img(SIZE)
    processed = host.script.run(p, *args)
    assert processed.images  # the API reads processed.images: run must return Processed
    method, scheduler, full_steps = expected
    assert f"Latent upscale method: {method}" in processed.info
    assert f"Latent upscale scheduler: {scheduler}" in processed.info
    assert f"Latent upscale full steps: {full_steps}" in processed.info


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bilinearr"], "valid methods: nearest, nearest-exact"),
        ([None, "karass"], "valid schedulers: automatic, simple"),
        ([None, None, "sometimes"], "true or false"),
        (["area", "simple", True, 0, 1, 0.4, "extra"], "at most 6"),
        ([None, None, None, "twice"], "upscale by must be a number"),
        ([None, None, None, 0, 9], "passes must be a whole number from 1 to 4"),
    ],
)
def test_api_arguments_that_are_refused(host, args, message):
    p = host.img2img(SIZE)
    with pytest.raises(ValueError, match=message):
        host.script.run(p, *args)
    assert not hasattr(p, host.webui.ATTR)


# ---------------------------------------------------------------------------------------------
# Loading


def test_hooks_are_installed_once_across_reloads(host):
    cls = host.processing.StableDiffusionProcessingImg2Img
    common = host.modules.sd_samplers_common
    first_init, first_steps = cls.init, common.setup_img2img_steps
    for _ in range(3):
        host.load_extension()
    assert cls.init is first_init
    assert common.setup_img2img_steps is first_steps
    assert cls.init.__wrapped__.__module__ == "modules.processing"
    assert common.setup_img2img_steps.__wrapped__.__module__ == "modules.sd_samplers_common"
    p = host.img2img(SIZE, steps=10, denoising_strength=0.5)
    ran = host.webui.run_job(p, host.webui.Settings()).sampler_runs[0]
    assert (ran["total"], ran["t_enc"]) == (20, 9)


def test_a1111_import_path_only_while_scripts_load(monkeypatch):
    """A1111 puts the extension root on sys.path only while its scripts run."""
    monkeypatch.setattr(sys, "path", [p for p in sys.path if Path(p or ".").resolve() != REPO])
    for name in [
        n for n in sys.modules if n == "latent_upscale" or n.startswith("latent_upscale.")
    ]:
        monkeypatch.delitem(sys.modules, name)
    host = install_host(monkeypatch, "a1111-1.10")
    assert all(Path(p or ".").resolve() != REPO for p in sys.path)
    assert importlib.util.find_spec("latent_upscale").origin.startswith(str(REPO))  # cached
    processed = host.script.run(host.img2img(SIZE), "bislerp", "beta_comfyui")
    assert "Latent upscale method: bislerp" in processed.info


def test_a_host_without_a_hook_point_refuses_clearly(monkeypatch, capsys):
    host = install_host(monkeypatch, "a1111-1.10", extension=False)
    monkeypatch.delattr(host.modules.sd_samplers_common, "setup_img2img_steps")
    host.load_extension()
    assert "lacks modules.sd_samplers_common.setup_img2img_steps" in capsys.readouterr().out
    host.start_ui()
    with pytest.raises(RuntimeError, match="cannot run here"):
        host.script.run(host.img2img(SIZE))


def test_only_the_adapter_imports_the_webui():
    package = REPO / "latent_upscale"
    importers = {
        f.relative_to(package).parts[0]
        for f in package.rglob("*.py")
        if "from modules" in f.read_text() or "import modules" in f.read_text()
    }
    assert importers == {"webui"}  # the adapter sub-package, and nothing else
    entry = ENTRY_SCRIPT.read_text()
    assert "modules" not in entry.replace("latent_upscale", "")
    assert len([line for line in entry.splitlines() if line.strip()]) <= 12


def test_metadata_names_the_extension():
    parser = configparser.ConfigParser()
    parser.read(REPO / "metadata.ini")
    assert parser["Extension"]["Name"] == "latent-upscale"


def _install_py():
    spec = importlib.util.spec_from_file_location("latent_upscale_install", REPO / "install.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_install_py_installs_nothing_on_a_normal_host(monkeypatch, capsys):
    install = _install_py()
    assert install.missing_requirements() == []
    calls = []
    launch = types.SimpleNamespace(
        args=types.SimpleNamespace(skip_install=False), run_pip=lambda *a: calls.append(a)
    )
    monkeypatch.setitem(sys.modules, "launch", launch)
    install.main()
    assert calls == []  # an install attempt would be recorded here, not swallowed
    assert capsys.readouterr().out == ""


def test_install_py_without_the_webui_says_what_to_install(monkeypatch, capsys):
    install = _install_py()
    monkeypatch.setattr(install, "REQUIREMENTS", {"no_such_module_xyz": "no-such-module-xyz"})
    monkeypatch.setitem(sys.modules, "launch", None)  # not run by a WebUI: no launch module
    install.main()
    assert "pip install no-such-module-xyz" in capsys.readouterr().out


@pytest.mark.parametrize("skip", [True, False])
def test_install_py_respects_skip_install(monkeypatch, skip):
    install = _install_py()
    monkeypatch.setattr(install, "REQUIREMENTS", {"no_such_module_xyz": "no-such-module-xyz"})
    calls = []
    launch = types.SimpleNamespace(
        args=types.SimpleNamespace(skip_install=skip), run_pip=lambda *a: calls.append(a)
    )
    monkeypatch.setitem(sys.modules, "launch", launch)
    install.main()
    assert len(calls) == (0 if skip else 1)
