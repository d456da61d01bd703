"""Where bislerp's CPU time goes, against bilinear: its kernels, and a lower bound.

    python benchmarks/bench_bislerp_floor.py [--threads N] [--shape B,C,H,W] [--runs N]

torch's bilinear is one fused kernel; bislerp (ComfyUI's slerp of channel vectors, a width
pass then a height pass) is a sequence of torch operations. Timed side by side in one run
(interleaved, the minimum over runs), for a 2x upscale:

- ``bilinear``: ``interpolate(mode="bilinear")``;
- ``bislerp``: ``latent_upscale.upscale(..., "bislerp")``, the shipped method;
- ``bislerp kernels``: the aten operations one bislerp call runs, recorded once and replayed
  back to back: the same kernels on the same shapes, without any Python of the package (views
  and allocations included, as the call makes them);
- ``bislerp kernels, no views``: the same without the view operations (they compute nothing);
- ``minimal 2x``: the fewest operations a 2x pass needs, nothing else: channel norms (square,
  sum, root), unit vectors, neighbour cosines (product, sum), angles, their sines, the norm
  lerp over the sine, the slerp weights (product, sine, product) and the two-term blend.
  Not exact: it leaves out ComfyUI's parallel/opposite pairs, zero vectors, the correctly
  rounded square root, the border copies and the interleaving of the width pass's output
  (its width pass runs on a transposed copy of the input made before timing). Its result is
  checked against the shipped bislerp inside the border before anything is timed.

If the kernels alone are above the 4x target at these threads, no arrangement of the same
operations meets it there; only fewer or cheaper kernels would.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_upscale import DEFAULT_THREADS, LOAD, TARGETS, machine_line, time_interleaved

from latent_upscale.interpolation import upscale

VIEWS = ("slice", "unsqueeze", "view", "select", "transpose", "as_strided", "alias", "split",
         "narrow", "unflatten", "detach", "expand", "t.default")  # fmt: skip


class Recorder(TorchDispatchMode):
    """Records every aten operation (function, arguments) run while active."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        self.ops.append((func, args, kwargs))
        return func(*args, **kwargs)


def replayer(ops: list):
    """A callable that runs the recorded operations again, in order."""

    def replay() -> None:
        for func, args, kwargs in ops:
            func(*args, **kwargs)

    return replay


def is_view(func) -> bool:
    return any(name in str(func) for name in VIEWS)


def minimal_pass(x: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Rows 1 .. 2n-2 of a 2x bislerp pass along dim 2 of ``x`` [B, C, n, W], as
    [B, C, n-1, 2, W]; ``r`` the two phases' ratios, ``t`` = (1 - r, r), shaped to broadcast."""
    norm = (x * x).sum(1, keepdim=True).sqrt_()
    unit = x / norm
    left, right = unit[:, :, :-1], unit[:, :, 1:]
    angle = (left * right).sum(1, keepdim=True).acos_()
    n1, n2 = norm[:, :, :-1].unsqueeze(3), norm[:, :, 1:].unsqueeze(3)
    scale = torch.lerp(n1, n2, r).div_(angle.sin().unsqueeze(3))  # L / sin a
    w = torch.mul(angle.unsqueeze(3), t).sin_().mul_(scale)
    return torch.mul(left.unsqueeze(3), w[:, 0:1]).addcmul_(right.unsqueeze(3), w[:, 1:2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help=f"torch CPU threads (default: torch's, here {DEFAULT_THREADS})",
    )
    parser.add_argument("--shape", default="1,4,128,128", help="input B,C,H,W")
    parser.add_argument("--runs", type=int, default=201, help="interleaved runs")
    args = parser.parse_args(argv)  # fmt: skip
    if args.threads:
        torch.set_num_threads(args.threads)
    b, c, h, w = (int(v) for v in args.shape.split(","))
    size = (2 * h, 2 * w)
    x = torch.randn(b, c, h, w, generator=torch.Generator().manual_seed(0))

    upscale(x, size, "bislerp")  # warm: cached plans are built outside the recording
    recorder = Recorder()
    with recorder:
        upscale(x, size, "bislerp")
    kernels = [op for op in recorder.ops if not is_view(op[0])]

    r = torch.tensor([0.25, 0.75]).reshape(1, 1, 1, 2, 1)
    t = torch.stack([1 - r, r], dim=1).reshape(1, 2, 1, 2, 1)
    x_t = x.transpose(2, 3).contiguous()  # the width pass as a pass along dim 2, untimed
    y_inner = minimal_pass(x_t, r, t).flatten(2, 3).transpose(2, 3)
    y = torch.cat([x[..., :1], y_inner, x[..., -1:]], dim=3).contiguous()  # + border columns

    def minimal() -> torch.Tensor:
        minimal_pass(x_t, r, t)
        return minimal_pass(y, r, t)

    inner = minimal().flatten(2, 3)
    error = float((inner - upscale(x, size, "bislerp")[:, :, 1:-1]).abs().max())
    if not error < 1e-4:
        print(f"the minimal 2x sequence differs from bislerp by {error:.3g}: nothing timed")
        return 1

    fns = {
        "bilinear": lambda: F.interpolate(x, size=size, mode="bilinear", align_corners=False),
        "bislerp": lambda: upscale(x, size, "bislerp"),
        "bislerp kernels": replayer(recorder.ops),
        "bislerp kernels, no views": replayer(kernels),
        "minimal 2x": minimal,
    }
    counts = {"bilinear": 1, "bislerp": len(recorder.ops), "bislerp kernels": len(recorder.ops),
              "bislerp kernels, no views": len(kernels)}  # fmt: skip
    seconds = time_interleaved(fns, args.runs, 10, torch.device("cpu"), min)
    print(f"Machine: {machine_line(torch.device('cpu'))}")
    print("Load average before the run (1, 5, 15 min): " + " ".join(f"{v:.2f}" for v in LOAD))
    print(
        f"[{b}, {c}, {h}, {w}] -> {size[0]}x{size[1]} float32, minimum of {args.runs}"
        f" interleaved runs; minimal 2x = bislerp within {error:.1e} inside the border"
    )
    print()
    print("| callable | time (ms) | x bilinear | aten operations |")
    print("| --- | ---: | ---: | ---: |")
    for name, s in seconds.items():
        count = counts.get(name, "")
        print(f"| {name} | {s * 1e3:.3f} | {s / seconds['bilinear']:.2f} | {count} |")
    print()
    target = TARGETS["bislerp_time"]
    ratio = seconds["bislerp kernels, no views"] / seconds["bilinear"]
    verdict = "above" if ratio > target else "within"
    print(f"bislerp's kernels alone: {ratio:.2f}x bilinear, {verdict} the {target:g}x target.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
