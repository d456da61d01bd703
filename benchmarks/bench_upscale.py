"""Time and memory of every latent resize method, as ratios measured in the same run.

    python benchmarks/bench_upscale.py [--device cpu|cuda] [--quick] [--threads N]
                                       [--methods a,b,...]

Without --device: CPU, then CUDA too when available. CPU timings use torch's default thread
count (all cores, what the WebUI runs with) unless --threads says otherwise; the count is
printed with the results.

Each figure is a median over interleaved runs (round-robin over the callables compared, so load
from other processes hits all of them alike) after warm-up runs. Ratios:

- ``x bilinear``: time against torch's bilinear interpolate to the same size.
- ``x copy``: time against copying a tensor of the output's size (``out.copy_(other)``), the
  memory-bound floor for anything that writes the output.
- ``x direct``: the torch modes against calling ``torch.nn.functional.interpolate`` directly
  (for float16/bfloat16 antialias on CPU, which torch lacks, direct = float32 call + cast back).
- ``x bicubic-aa``: lanczos against torch's bicubic with antialias=True.
- ``x torch lanczos``: lanczos against torch's own mode='lanczos' (torch 2.13+, CPU only).
- ``mem``: peak extra memory during the call (the output included) over the output's size.

Targets (printed PASS/FAIL): bislerp <= 4x bilinear and <= 3x memory; lanczos <= 3x
bicubic-aa; torch modes <= 1.1x direct.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import weakref
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from latent_upscale.interpolation import METHODS, upscale

CASES = [
    ((1, 4, 128, 128), (256, 256)),
    ((1, 4, 96, 96), (384, 384)),
    ((2, 16, 64, 64), (128, 128)),
]
DTYPES = {"fp32": torch.float32, "fp16": torch.float16}
STATS = {"median": statistics.median, "min": min}
LOAD = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
DEFAULT_THREADS = torch.get_num_threads()  # before any --threads: torch's default
TARGETS = {"bislerp_time": 4.0, "bislerp_mem": 3.0, "lanczos_time": 3.0, "torch_time": 1.1}


class AllocationTracker(TorchDispatchMode):
    """Peak bytes of live tensor storages created by aten ops while active (CPU memory proxy).

    Every op's outputs are recorded by storage; a storage counts as freed when the last Python
    tensor referring to it is collected. Storages that existed before (the input) are not
    counted, nor are temporaries that live and die inside a single aten kernel.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, list[int]] = {}  # storage pointer -> [bytes, tensors alive]
        self.external: set[int] = set()
        self.current = 0
        self.peak = 0

    def _release(self, ptr: int) -> None:
        entry = self.live.get(ptr)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.current -= entry[0]
            del self.live[ptr]

    def _track(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr in self.external or ptr == 0:
            return
        entry = self.live.get(ptr)
        if entry is None:
            entry = self.live[ptr] = [storage.nbytes(), 0]
            self.current += entry[0]
            self.peak = max(self.peak, self.current)
        entry[1] += 1
        weakref.finalize(t, self._release, ptr)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        for a in tree_leaves((args, kwargs)):
            if isinstance(a, torch.Tensor):
                ptr = a.untyped_storage().data_ptr()
                if ptr not in self.live:
                    self.external.add(ptr)
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self._track(t)
        return out


def peak_extra_bytes(fn: Callable[[], torch.Tensor], device: torch.device) -> int:
    """Peak memory allocated during ``fn()`` beyond what was allocated before, output included."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        out = fn()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - base
        del out
        return peak
    tracker = AllocationTracker()
    with tracker:
        out = fn()
    del out
    return tracker.peak


def time_interleaved(
    fns: dict[str, Callable[[], object]],
    repeats: int,
    warmup: int,
    device: torch.device,
    stat: Callable[[list[float]], float] = statistics.median,
) -> dict[str, float]:
    """Seconds per call of each function (``stat`` of its samples: median or min), run
    round-robin ``repeats`` times."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda *a: None)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    sync(device)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for i in range(repeats):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            sync(device)
            start = time.perf_counter()
            fns[name]()
            sync(device)
            samples[name].append(time.perf_counter() - start)
    return {name: stat(s) for name, s in samples.items()}


def torch_direct(name: str) -> Callable[[torch.Tensor, tuple[int, int]], torch.Tensor]:
    """What a caller would write without this package: interpolate in the method's mode."""
    spec = METHODS[name]
    mode, antialias = spec.mode, spec.antialias
    align = False if mode in ("bilinear", "bicubic") else None

    def call(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if antialias and x.device.type == "cpu" and x.dtype in (torch.float16, torch.bfloat16):
            y = F.interpolate(x.float(), size=size, mode=mode, align_corners=align, antialias=True)
            return y.to(x.dtype)
        return F.interpolate(x, size=size, mode=mode, align_corners=align, antialias=antialias)

    return call


def has_torch_lanczos(device: torch.device) -> bool:
    """Whether this torch has interpolate(mode='lanczos') on ``device`` (torch 2.13+, CPU)."""
    try:
        F.interpolate(torch.zeros(1, 1, 2, 2, device=device), size=(3, 3), mode="lanczos",
                      antialias=True)  # fmt: skip
    except (ValueError, RuntimeError, NotImplementedError):
        return False
    return True


def torch_lanczos_call(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """torch's own lanczos (float32 for half inputs, which its CPU kernel lacks)."""
    y = F.interpolate(x.float(), size=size, mode="lanczos", antialias=True)
    return y.to(x.dtype)


def machine_line(device: torch.device) -> str:
    """One line naming the machine, torch and the device."""
    if device.type == "cuda":
        dev = torch.cuda.get_device_name(device)
    else:
        dev = (
            f"CPU ({platform.processor() or platform.machine()}), {torch.get_num_threads()} threads"
        )
    return (
        f"{platform.node()} | {platform.system()} {platform.machine()} | {os.cpu_count()} cores |"
        f" Python {platform.python_version()} | torch {torch.__version__} | device {dev}"
    )


def run(
    device: torch.device, quick: bool, methods: list[str] | None = None, stat: str = "median"
) -> int:
    """Benchmark every method; print the table and the target verdicts; 0 if all targets pass."""
    repeats, warmup = (9, 2) if quick else (41, 5)
    torch_lanczos = has_torch_lanczos(device)
    rows = []
    verdicts: dict[str, list[tuple[str, float]]] = {k: [] for k in TARGETS}
    gen = torch.Generator().manual_seed(0)
    for shape, size in CASES:
        for dname, dtype in DTYPES.items():
            x = torch.randn(shape, generator=gen).to(device, dtype)
            out_shape = (*shape[:2], *size)
            dst = torch.empty(out_shape, device=device, dtype=dtype)
            src = torch.randn(out_shape, generator=gen).to(device, dtype)
            out_bytes = dst.numel() * dst.element_size()
            bilinear = torch_direct("bilinear")
            case = f"{list(shape)}->{size[0]}x{size[1]} {dname}"
            for name, spec in METHODS.items():
                if methods and name not in methods:
                    continue
                fns: dict[str, Callable[[], object]] = {
                    "method": partial(upscale, x, size, name),
                    "bilinear": partial(bilinear, x, size),
                    "copy": partial(dst.copy_, src),
                }
                if spec.mode is not None:
                    fns["direct"] = partial(torch_direct(name), x, size)
                if name == "lanczos":
                    fns["bicubic-aa"] = partial(torch_direct("bicubic-antialiased"), x, size)
                    if torch_lanczos:
                        fns["torch-lanczos"] = partial(torch_lanczos_call, x, size)
                t = time_interleaved(fns, repeats, warmup, device, STATS[stat])
                mem = peak_extra_bytes(partial(upscale, x, size, name), device)
                ratio = {k: t["method"] / t[k] for k in t if k != "method"}
                rows.append((case, name, t["method"], ratio, mem / out_bytes))
                if name == "bislerp":
                    verdicts["bislerp_time"].append((case, ratio["bilinear"]))
                    if dtype == torch.float32:  # half inputs compute in float32: reported only
                        verdicts["bislerp_mem"].append((case, mem / out_bytes))
                elif name == "lanczos":
                    verdicts["lanczos_time"].append((case, ratio["bicubic-aa"]))
                else:
                    verdicts["torch_time"].append((case, ratio["direct"]))
    print_report(device, rows, verdicts, repeats, warmup, stat)
    return 0 if all(v <= TARGETS[k] for k, vs in verdicts.items() for _, v in vs) else 1


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.2f}"


def print_report(device, rows, verdicts, repeats: int, warmup: int, stat: str) -> None:
    """The markdown table, the method notes and PASS/FAIL per target."""
    print(f"Machine: {machine_line(device)}")
    if hasattr(os, "getloadavg"):
        print("Load average before the run (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*LOAD))
    print(
        f"{stat.capitalize()} of {repeats} interleaved runs after {warmup} warm-up rounds;"
        " ratios per run."
    )
    if device.type == "cpu":
        default = " (torch's default)" if torch.get_num_threads() == DEFAULT_THREADS else ""
        print(
            f"CPU threads: {torch.get_num_threads()}{default}, --threads to change. On a shared"
            " machine each multi-threaded OpenMP region can stall for a scheduler slice while"
            " another process holds a core, which penalises methods made of many ops (bislerp)"
            " more than single-kernel ones; --threads 1 gives the most stable ratios."
        )
    if device.type == "cuda":
        print("Memory: torch.cuda.max_memory_allocated during the call minus the memory before.")
    else:
        print(
            "Memory (CPU proxy): peak bytes of live tensor storages that aten ops create during"
            " the call (TorchDispatchMode), output included, input excluded. Temporaries inside"
            " one aten kernel are invisible, so torch's own modes read about 1.0."
        )
    print()
    print(
        "| case | method | time (ms) | x bilinear | x copy | x direct | x bicubic-aa |"
        " x torch lanczos | mem x out |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for case, name, sec, ratio, mem in rows:
        print(
            f"| {case} | {name} | {sec * 1e3:.3f} | {_fmt(ratio.get('bilinear'))} |"
            f" {_fmt(ratio.get('copy'))} | {_fmt(ratio.get('direct'))} |"
            f" {_fmt(ratio.get('bicubic-aa'))} | {_fmt(ratio.get('torch-lanczos'))} | {mem:.2f} |"
        )
    print()
    labels = {
        "bislerp_time": "bislerp time <= {:g}x torch bilinear",
        "bislerp_mem": "bislerp peak extra memory <= {:g}x output (fp32 rows; fp16 is computed in"
        " float32, so its intermediates weigh double: see the table)",
        "lanczos_time": "lanczos time <= {:g}x torch bicubic-antialiased",
        "torch_time": "torch modes time <= {:g}x calling torch directly",
    }
    for key, values in verdicts.items():
        if not values:
            continue
        limit = TARGETS[key]
        worst_case, worst = max(values, key=lambda cv: cv[1])
        status = "PASS" if worst <= limit else "FAIL"
        print(f"{status}: {labels[key].format(limit)} (worst {worst:.2f}x at {worst_case})")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None,
                        help="default: cuda when available, else cpu")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="fewer runs (about 30 s on 2 cores)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help=f"torch CPU threads (default: torch's default, here {DEFAULT_THREADS})",
    )
    parser.add_argument(
        "--methods",
        type=lambda text: [m.strip() for m in text.split(",") if m.strip()],
        default=None,
        help="comma-separated methods to run (default: all)",
    )
    parser.add_argument(
        "--stat",
        choices=sorted(STATS),
        default="median",
        help="statistic of each callable's timings (default median; min shows the cost without"
        " interference from other processes)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.methods or ()) - set(METHODS))
    if unknown:
        parser.error(f"--methods: unknown {', '.join(unknown)}; valid: {', '.join(METHODS)}")
    if args.threads is not None:
        if args.threads < 1:
            parser.error("--threads must be >= 1")
        torch.set_num_threads(args.threads)
    name = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available in this torch build / machine")
    status = 0
    devices = [torch.device(name)]
    if args.device is None and name == "cuda":
        devices.insert(0, torch.device("cpu"))  # no --device: CPU and CUDA
    for device in devices:
        status |= run(device, args.quick, args.methods, args.stat)
        print()
    return status


if __name__ == "__main__":
    raise SystemExit(main())
