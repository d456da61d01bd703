"""Stub of the WebUI's ``scripts/xyz_grid.py``: the axis classes, the axis list and cell runs.

Loaded like every script (module name "xyz_grid.py"). ``Script.run`` confirms the values and
runs each cell on a shallow copy of ``p``, as the real plot does.
"""

from __future__ import annotations

from copy import copy
from typing import Any

from modules import processing, scripts, shared


def apply_field(field: str) -> Any:
    def fun(p: Any, x: Any, xs: Any) -> None:
        setattr(p, field, x)

    return fun


def do_nothing(p: Any, x: Any, xs: Any) -> None:
    pass


def format_value_add_label(p: Any, opt: Any, x: Any) -> str:
    return f"{opt.label}: {x}"


def format_nothing(p: Any, opt: Any, x: Any) -> str:
    return ""


class AxisOption:
    def __init__(
        self,
        label: str,
        type: Any,
        apply: Any,
        format_value: Any = format_value_add_label,
        confirm: Any = None,
        cost: float = 0.0,
        choices: Any = None,
        prepare: Any = None,
    ) -> None:
        self.label = label
        self.type = type
        self.apply = apply
        self.format_value = format_value
        self.confirm = confirm
        self.cost = cost
        self.prepare = prepare
        self.choices = choices


class AxisOptionImg2Img(AxisOption):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_img2img = True


class AxisOptionTxt2Img(AxisOption):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_img2img = False


axis_options = [
    AxisOption("Nothing", str, do_nothing, format_value=format_nothing),
    AxisOption("Seed", int, apply_field("seed")),
    AxisOption("Steps", int, apply_field("steps")),
    AxisOptionImg2Img("Denoising", float, apply_field("denoising_strength")),
    AxisOption("Sampler", str, apply_field("sampler_name")),
    AxisOptionTxt2Img(
        "Hires upscaler",
        str,
        apply_field("hr_upscaler"),
        choices=lambda: [*shared.latent_upscale_modes, *[x.name for x in shared.sd_upscalers]],
    ),
]


class Script(scripts.Script):
    def title(self) -> str:
        return "X/Y/Z plot"

    def run(self, p: Any, axis_label: str, values: list[str]) -> list[Any]:
        """One axis: confirm, then each cell on a copy of ``p`` (no grid image)."""
        opt = next(a for a in axis_options if a.label == axis_label)
        values = [opt.type(v) for v in values]
        if opt.confirm:
            opt.confirm(p, values)
        results = []
        for value in values:
            pc = copy(p)
            pc.styles = pc.styles[:]
            opt.apply(pc, value, values)
            results.append(processing.process_images(pc))
        return results
