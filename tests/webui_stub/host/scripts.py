"""Stub of ``modules.scripts``: Script, scripts_data, loading scripts and the script runner."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections import namedtuple
from pathlib import Path
from typing import Any

import modules

HOST = modules.HOST

AlwaysVisible = object()
ScriptClassData = namedtuple("ScriptClassData", ["script_class", "path", "basedir", "module"])
scripts_data: list[ScriptClassData] = []


class Script:
    name = None
    filename = None
    args_from = None
    args_to = None
    alwayson = False
    is_txt2img = False
    is_img2img = False
    group = None
    infotext_fields = None
    paste_field_names = None
    api_info = None

    def title(self) -> str:
        raise NotImplementedError

    def ui(self, is_img2img: bool) -> Any:
        return None

    def show(self, is_img2img: bool) -> Any:
        return True

    def run(self, p: Any, *args: Any) -> Any:
        return None

    def process(self, p: Any, *args: Any) -> None:
        pass

    def before_process(self, p: Any, *args: Any) -> None:
        pass

    def process_before_every_sampling(self, p: Any, *args: Any, **kwargs: Any) -> None:
        pass

    def elem_id(self, item_id: str) -> str:
        need_tabname = self.show(True) == self.show(False)
        tabkind = "img2img" if self.is_img2img else "txt2img"
        tabname = f"{tabkind}_" if need_tabname else ""
        title = re.sub(r"[^a-z_0-9]", "", re.sub(r"\s", "_", self.title().lower()))
        return f"script_{tabname}{title}_{item_id}"

    if HOST.forge:

        def before_process_init_images(self, p: Any, pp: Any, *args: Any, **kwargs: Any) -> None:
            pass


def load_module(path: str | Path) -> Any:
    """As the WebUI: the module is named after the file and not put into sys.modules."""
    spec = importlib.util.spec_from_file_location(os.path.basename(path), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_script(path: str | Path, basedir: str | Path) -> Any:
    """Execute one scripts/*.py with its extension root on sys.path; register its Script classes.

    A1111 puts the root on sys.path only while the file runs; the Forge family keeps it there.
    """
    saved = list(sys.path)
    sys.path = [str(basedir), *sys.path]
    try:
        module = load_module(path)
    finally:
        if not HOST.sys_path_permanent:
            sys.path = saved
    for obj in module.__dict__.values():
        if type(obj) is type and issubclass(obj, Script) and obj is not Script:
            scripts_data.append(ScriptClassData(obj, str(path), str(basedir), module))
    return module


class ScriptRunner:
    def __init__(self) -> None:
        self.scripts: list[Script] = []
        self.selectable_scripts: list[Script] = []
        self.alwayson_scripts: list[Script] = []
        self.infotext_fields: list[Any] = []
        self.errors: list[BaseException] = []  # what the runner reported and went past

    def initialize_scripts(self, is_img2img: bool) -> None:
        for data in scripts_data:
            script = data.script_class()
            script.filename = data.path
            script.is_img2img = is_img2img
            script.is_txt2img = not is_img2img
            visibility = script.show(is_img2img)
            if visibility is AlwaysVisible:
                self.alwayson_scripts.append(script)
                script.alwayson = True
            elif visibility:
                self.selectable_scripts.append(script)
            else:
                continue
            self.scripts.append(script)

    def create_script_ui(self, is_img2img: bool = True) -> list[Any]:
        """The script's ui() and argument range, as the runner does when the UI is built."""
        inputs: list[Any] = [None]  # the script dropdown
        for script in self.scripts:
            script.args_from = len(inputs)
            controls = script.ui(is_img2img) or []
            inputs.extend(controls)
            script.args_to = len(inputs)
            if script.infotext_fields is not None:
                self.infotext_fields += script.infotext_fields
        return inputs

    def before_process(self, p: Any) -> None:
        for script in self.alwayson_scripts:
            script.before_process(p, *p.script_args[script.args_from : script.args_to])

    def process(self, p: Any) -> None:
        for script in self.alwayson_scripts:
            script.process(p, *p.script_args[script.args_from : script.args_to])

    def before_process_init_images(self, p: Any, pp: Any) -> None:
        pass

    def process_before_every_sampling(self, p: Any, **kwargs: Any) -> None:
        """Each always-on script's hook before each sampling (img2img ``sample`` on 1.10+ and
        the Forge family). As the hosts do, a script's exception is reported and the job goes
        on; the stub keeps it in ``errors`` (and prints a line)."""
        for script in self.alwayson_scripts:
            method = getattr(script, "process_before_every_sampling", None)
            if method is None:
                continue
            try:
                method(p, *p.script_args[script.args_from : script.args_to], **kwargs)
            except Exception as exc:
                self.errors.append(exc)
                print(f"Error running process_before_every_sampling: {script.filename}: {exc!r}")

    def run(self, p: Any, *args: Any) -> Any:
        index = args[0]
        if index == 0:
            return None
        script = self.selectable_scripts[index - 1]
        return script.run(p, *args[script.args_from : script.args_to])
