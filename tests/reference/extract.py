"""Regenerate the compact reference files in this folder from the full golden files.

Usage, from the repository root::

    python tests/reference/extract.py [GOLDEN_DIR]

GOLDEN_DIR defaults to ``$LATENT_UPSCALE_GOLDEN`` or ``../shared/golden``. The output is
lossless for every field it keeps: float32 numbers are written as the shortest decimal that
reads back to the same float32, float64 numbers as Python's shortest round-trip repr, and
identical arrays are stored once. Before writing, the script expands the compact data with the
loader the tests use (``tests/golden.py``) and checks it equals the source field for field.
"""

from __future__ import annotations

import argparse
import array
import hashlib
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests import golden  # noqa: E402

# case fields the tests never read; dropped to keep the repository small
DROPPED_CASE_FIELDS = {
    "sigmas.json": ("output_f64", "precast_f64"),
    "upscale.json": (),
}

RUN_WITH = "run on CPU with Python 3.11.7, torch 2.13.0+cpu, numpy 2.4.6"
RUN_WITH_PILLOW = "run on CPU with Python 3.11.7, torch 2.13.0+cpu, Pillow 13.0.0, numpy 2.4.6"

# Where each sigmas.json implementation comes from (docs/schedules-and-methods.md, section 0)
SIGMAS_ANCHOR = {
    "a1111": "a1111",
    "a1111_edge": "a1111",
    "a1111_img2img": "a1111",
    "a1111_downcast_alphas_cumprod": "a1111",
    "comfyui": "comfyui",
    "comfyui_edge": "comfyui",
    "comfyui_ksampler_denoise": "comfyui",
    "comfyui_ksampler_discard": "comfyui",
    "comfyui_node": "comfyui_node",
    "comfyui_node_denoise": "comfyui_node",
    "k-diffusion": "k-diffusion",
    "forge": "forge",
    "feynlee-latent-upscale": "feynlee-latent-upscale",
    "feynlee-latent-upscale_edge": "feynlee-latent-upscale",
    "feynlee-latent-upscale_img2img": "feynlee-latent-upscale",
}
SIGMAS_EXTRA = {
    "a1111_img2img": "setup_img2img_steps and sample_img2img of v1.10 as carried in Forge "
    "commit e26abf87 ('Gradio 4 + WebUI 1.10')",
    "a1111_downcast_alphas_cumprod": "alphas_cumprod downcast to float16 as added in A1111 "
    "commits b25c126 / 6d0a8dc (Nov 2023)",
    "comfyui": "comfy/samplers.py itself was read as 2025 text without a commit (two "
    "independent copies agree)",
}


def shortest_f32(value: float) -> float:
    """The shortest decimal that reads back (via float64) to the float32 ``value``."""
    exact = array.array("f", [value])[0]
    if exact != value:
        raise ValueError(f"{value!r} is not a float32 value")
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        if array.array("f", [candidate])[0] == value:
            return candidate
    raise AssertionError(f"no 9-digit form of {value!r}")  # cannot happen for float32


class Pool:
    """Arrays stored once, referenced from the data as ``{"array": index}``."""

    def __init__(self) -> None:
        self.arrays: list[dict] = []
        self._index: dict[str, int] = {}

    def add(self, values: list, dtype: str) -> dict:
        if dtype == "float32":
            values = [v if isinstance(v, str) else shortest_f32(v) for v in values]
        elif dtype != "float64":
            raise ValueError(f"unexpected dtype {dtype!r}")
        entry = {"dtype": dtype, "values": values}
        key = json.dumps(entry)
        if key not in self._index:
            self._index[key] = len(self.arrays)
            self.arrays.append(entry)
        return {"array": self._index[key]}


def _sigmas(data: dict, pool: Pool) -> tuple[dict, list[dict], list[dict]]:
    meta = json.loads(json.dumps(data["meta"]))
    for key, table in meta["tables"].items():
        if isinstance(table, dict) and "sigmas" in table:
            dtype = "float64" if key == "float64" else "float32"
            table["sigmas"] = pool.add(table["sigmas"], dtype)
    cases, sources = [], {}
    for case in data["cases"]:
        case = {k: v for k, v in case.items() if k not in DROPPED_CASE_FIELDS["sigmas.json"]}
        if isinstance(case.get("output"), list):
            case["output"] = pool.add(case["output"], case.get("dtype") or "float64")
        cases.append(case)
        sources.setdefault((case["implementation"], case["schedule"]), set()).add(case["source"])
    groups = []
    for (impl, schedule), srcs in sorted(sources.items()):
        parts = [meta["anchors"][SIGMAS_ANCHOR[impl]], *sorted(srcs)]
        if impl in SIGMAS_EXTRA:
            parts.append(SIGMAS_EXTRA[impl])
        groups.append(
            {
                "implementation": impl,
                "schedule": schedule,
                "cases": sum(
                    1 for c in cases if (c["implementation"], c["schedule"]) == (impl, schedule)
                ),
                "provenance": "; ".join([*parts, RUN_WITH]),
            }
        )
    return meta, cases, groups


def _upscale(data: dict, pool: Pool) -> tuple[dict, list[dict], list[dict]]:
    meta = json.loads(json.dumps(data["meta"]))
    for spec in meta["inputs"].values():
        spec["values"] = pool.add(spec["values"], spec["dtype"])
    cases, calls = [], {}
    for case in data["cases"]:
        case = dict(case)
        if isinstance(case.get("output"), list):
            case["output"] = pool.add(case["output"], case["dtype"])
        if isinstance(case.get("output_f64"), list):
            case["output_f64"] = pool.add(case["output_f64"], case["output_f64_dtype"])
        cases.append(case)
        calls.setdefault(case["method"], set()).add(case["call"])
    groups = []
    for method, call in sorted(calls.items()):
        anchor = meta["anchors"][method.split(":")[0]]
        groups.append(
            {
                "method": method,
                "cases": sum(1 for c in cases if c["method"] == method),
                "provenance": "; ".join(
                    [anchor, *sorted(call), RUN_WITH.replace("numpy", "Pillow 13.0.0, numpy")]
                ),
            }
        )
    return meta, cases, groups


def _dump(compact: dict) -> str:
    """JSON with one array, group or case per line (readable diffs, still compact)."""
    line = json.dumps
    out = ["{"]
    for key in ("format", "extracted_from", "meta"):
        out.append(f"{line(key)}: {line(compact[key], separators=(',', ':'))},")
    for key in ("groups", "arrays", "cases"):
        items = compact[key]
        out.append(f"{line(key)}: [")
        out.extend(
            line(item, separators=(",", ":")) + ("," if i < len(items) - 1 else "")
            for i, item in enumerate(items)
        )
        out.append("]," if key != "cases" else "]")
    out.append("}")
    return "\n".join(out) + "\n"


def extract(name: str, source_dir: Path) -> str:
    raw = (source_dir / name).read_bytes()
    data = json.loads(raw)
    pool = Pool()
    meta, cases, groups = (_sigmas if name == "sigmas.json" else _upscale)(data, pool)
    compact = {
        "format": golden.FORMAT,
        "extracted_from": {
            "file": name,
            "sha256": hashlib.sha256(raw).hexdigest(),
            "cases": len(data["cases"]),
            "dropped_fields": list(DROPPED_CASE_FIELDS[name]),
        },
        "meta": meta,
        "groups": groups,
        "arrays": pool.arrays,
        "cases": cases,
    }
    text = _dump(compact)
    # lossless: the loader's expansion equals the source, minus the dropped fields
    expanded = golden.expand(json.loads(text))
    expected = {
        "meta": data["meta"],
        "cases": [
            {k: v for k, v in c.items() if k not in DROPPED_CASE_FIELDS[name]}
            for c in data["cases"]
        ],
    }
    assert expanded["meta"] == expected["meta"], f"{name}: meta differs after the round trip"
    assert expanded["cases"] == expected["cases"], f"{name}: cases differ after the round trip"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("LATENT_UPSCALE_GOLDEN") or str(REPO.parent / "shared" / "golden")
    parser.add_argument("golden_dir", nargs="?", default=default, type=Path)
    parser.add_argument(
        "--check", action="store_true", help="only report whether the files are up to date"
    )
    args = parser.parse_args(argv)
    stale = []
    for name in golden.FILES:
        text = extract(name, args.golden_dir)
        target = HERE / name
        current = target.read_text() if target.is_file() else None
        if current != text:
            stale.append(name)
            if not args.check:
                target.write_text(text)
        print(f"{name}: {len(text.encode()):,} bytes{' (changed)' if current != text else ''}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
