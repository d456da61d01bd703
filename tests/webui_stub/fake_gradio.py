"""A minimal stand-in for ``gradio`` (components record their arguments) for the stub host.

The real Gradio 3.41 / 4.40 builds are tested by tests/test_webui_ui.py (.ci/ui_check.sh).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.0-stub"


class Component:
    def __init__(self, value: Any = None, **kwargs: Any) -> None:
        self.value = value
        self.kwargs = kwargs
        self.label = kwargs.get("label")
        self.choices = kwargs.get("choices")


class Dropdown(Component):
    pass


class Checkbox(Component):
    pass


class Slider(Component):
    pass


class Layout:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.kwargs = kwargs

    def __enter__(self) -> Layout:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class Row(Layout):
    pass


class Column(Layout):
    pass


class Group(Layout):
    pass


class Blocks(Layout):
    pass
