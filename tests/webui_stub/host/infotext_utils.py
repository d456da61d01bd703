"""Stub of ``modules.infotext_utils`` (``generation_parameters_copypaste``): infotext and paste.

``paste(fields, text)`` applies a tab's paste fields ``[(component, key or callable)]`` to an
infotext the way the WebUI's paste button does: a callable key gets the parsed dict; None leaves
the component unchanged; other values are converted to the type of the component's value.
"""

from __future__ import annotations

import json
import re
from typing import Any

from modules import script_callbacks

_PARAM = re.compile(r'\s*(\w[\w \-/+()]*):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


def quote(text: Any) -> str:
    text = str(text)
    if "," not in text and "\n" not in text and ":" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def unquote(text: str) -> str:
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_generation_parameters(text: str) -> dict[str, Any]:
    """The last line's "key: value" pairs (prompts are not needed by the tests)."""
    params: dict[str, Any] = {}
    last = text.strip().split("\n")[-1]
    for key, value in _PARAM.findall(last):
        params[key.strip()] = unquote(value.strip())
    return params


def paste(fields: list[tuple[Any, Any]], text: str) -> list[Any]:
    """New values for each field's component after pasting ``text`` (``None``: unchanged)."""
    params = parse_generation_parameters(text)
    script_callbacks.infotext_pasted_callback(text, params)
    result = []
    for component, key in fields:
        value = key(params) if callable(key) else params.get(key)
        if value is None:
            result.append(None)
            continue
        kind = type(component.value)
        if kind is bool and value == "False":
            result.append(False)
        elif kind is int:
            result.append(float(value))
        else:
            result.append(kind(value))
    return result
