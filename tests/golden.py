"""Access to the reference outputs in ``../shared/golden`` (relative to the repository root)."""

from __future__ import annotations

import functools
import json
import math
import os
from pathlib import Path

import pytest

# ../shared/golden beside the repository; LATENT_UPSCALE_GOLDEN points elsewhere (e.g. on a
# machine where the checkout travels without its neighbours)
GOLDEN_DIR = Path(
    os.environ.get("LATENT_UPSCALE_GOLDEN")
    or Path(__file__).resolve().parent.parent.parent / "shared" / "golden"
)


@functools.cache
def _load(name: str) -> dict:
    return json.loads((GOLDEN_DIR / name).read_text())


def load(name: str) -> dict:
    """The parsed golden file ``name``; skips the calling test when the folder is absent."""
    if not (GOLDEN_DIR / name).is_file():
        pytest.skip(f"reference outputs not found: {GOLDEN_DIR / name} (CI provides ../shared)")
    return _load(name)


def cases(name: str, **match) -> list[dict]:
    """The cases of golden file ``name`` whose fields equal every ``match`` item."""
    return [c for c in load(name)["cases"] if all(c.get(k) == v for k, v in match.items())]


def values(seq) -> list[float]:
    """Golden numbers with the string "NaN" turned back into a float NaN."""
    return [math.nan if v == "NaN" else float(v) for v in seq]
