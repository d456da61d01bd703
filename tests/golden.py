"""The reference outputs the exactness tests compare against.

They travel with the code in ``tests/reference/`` (compact, lossless extracts of the full
golden files; see ``tests/reference/README.md``), so every exactness test runs in a plain
clone. When a larger external set is present (``$LATENT_UPSCALE_GOLDEN``, else
``../shared/golden`` beside the repository), its cases that the extract does not hold are
added to the in-repository ones; setting ``LATENT_UPSCALE_GOLDEN`` to a folder without the
files is an error, not a skip.
"""

from __future__ import annotations

import array
import functools
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
FILES = ("sigmas.json", "upscale.json")
FORMAT = "latent-upscale-reference/1"


def external_dir() -> Path | None:
    """The folder of the full golden files, or None when there is none."""
    env = os.environ.get("LATENT_UPSCALE_GOLDEN")
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parent.parent.parent / "shared" / "golden"
    return beside if beside.is_dir() else None


def _decode(entry: dict) -> list:
    values = entry["values"]
    if entry["dtype"] != "float32":
        return values
    # the exact float32 value, as the source files wrote it (float64 of the float32)
    snapped = array.array("f", [0.0 if isinstance(v, str) else v for v in values]).tolist()
    return [v if isinstance(v, str) else s for v, s in zip(values, snapped, strict=True)]


def _resolve(node: Any, arrays: list[list]) -> Any:
    if isinstance(node, dict):
        if node.keys() == {"array"}:
            return arrays[node["array"]]
        return {k: _resolve(v, arrays) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, arrays) for v in node]
    return node


def expand(compact: dict) -> dict:
    """A compact reference file turned back into the golden file's shape (meta, cases)."""
    if compact.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file: format {compact.get('format')!r}")
    arrays = [_decode(a) for a in compact["arrays"]]
    return {
        "meta": _resolve(compact["meta"], arrays),
        "cases": [_resolve(c, arrays) for c in compact["cases"]],
        "groups": compact["groups"],
        "extracted_from": compact["extracted_from"],
    }


@functools.cache
def in_repo(name: str) -> dict:
    """The expanded extract ``tests/reference/<name>`` (always present in a clone)."""
    return expand(json.loads((REFERENCE_DIR / name).read_text()))


@functools.cache
def external(name: str) -> dict | None:
    """The full external golden file ``name``, or None when no external set is present."""
    folder = external_dir()
    if folder is None:
        return None
    path = folder / name
    if not path.is_file():
        raise FileNotFoundError(f"LATENT_UPSCALE_GOLDEN={folder} has no {name}")
    return json.loads(path.read_text())


def external_sha256(name: str) -> str | None:
    """SHA-256 of the external golden file ``name`` (None without an external set)."""
    folder = external_dir()
    if folder is None:
        return None
    return hashlib.sha256((folder / name).read_bytes()).hexdigest()


@functools.cache
def load(name: str) -> dict:
    """The reference data ``name``: the in-repository extract plus any external-only cases."""
    data = dict(in_repo(name))
    extra = external(name)
    if extra is not None:
        known = {c["id"] for c in data["cases"]}
        data["cases"] = data["cases"] + [c for c in extra["cases"] if c["id"] not in known]
    return data


def require(items: list, what: str) -> list:
    """``items``, or an error saying that ``what`` selected nothing (no vacuous passes)."""
    if not items:
        raise LookupError(f"no reference case matches {what}")
    return items


def cases(name: str, **match: Any) -> list[dict]:
    """The cases of ``name`` whose fields equal every ``match`` item; at least one, or an error."""
    found = [c for c in load(name)["cases"] if all(c.get(k) == v for k, v in match.items())]
    return require(found, f"{name} {match}")


def values(seq: list) -> list[float]:
    """Reference numbers with the string "NaN" turned back into a float NaN."""
    return [math.nan if v == "NaN" else float(v) for v in seq]
