"""Stub of ``modules.script_callbacks`` (``name=`` only from 1.9 on, as in the hosts)."""

from __future__ import annotations

from typing import Any

import modules

HOST = modules.HOST

callbacks_before_ui: list[Any] = []
callbacks_infotext_pasted: list[Any] = []

if HOST.callback_names:

    def on_before_ui(callback: Any, *, name: str | None = None) -> None:
        callbacks_before_ui.append(callback)

    def on_infotext_pasted(callback: Any, *, name: str | None = None) -> None:
        callbacks_infotext_pasted.append(callback)

else:

    def on_before_ui(callback: Any) -> None:
        callbacks_before_ui.append(callback)

    def on_infotext_pasted(callback: Any) -> None:
        callbacks_infotext_pasted.append(callback)


def before_ui_callback() -> None:
    for callback in callbacks_before_ui:
        callback()


def infotext_pasted_callback(infotext: str, params: dict) -> None:
    for callback in callbacks_infotext_pasted:
        callback(infotext, params)
