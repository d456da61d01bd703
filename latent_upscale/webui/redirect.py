"""The redirect of ``torch.nn.functional.interpolate`` calls to the package's resize methods.

The WebUI resizes latents with one ``torch.nn.functional.interpolate`` call (img2img resize mode
3, txt2img Hires. fix). While a job runs, a wrapper stands in for that function; it redirects
only the calls that the running thread's own matchers claim, so jobs in other threads (API
servers and extensions call ``process_images`` from several) pass straight through to torch.
The wrapper is installed by the first job and removed by the last, under a lock.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import torch

from latent_upscale.interpolation import upscale
from latent_upscale.webui.common import LOG_PREFIX

# match(input, call) -> (size, method) for a call to redirect, else None
Match = Callable[[Any, dict[str, Any]], "tuple[tuple[int, int], str] | None"]

_INTERPOLATE_ARGS = ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor")


# torch's own function as this module found it: the fallback when a chain of wrappers leads
# back into ours (another extension wrapping interpolate around or under it)
_FALLBACK = torch.nn.functional.interpolate


class _Installed:
    """The one wrapper in ``torch.nn.functional`` and how many jobs use it."""

    lock = threading.Lock()
    users = 0
    host: Callable[..., Any] | None = None  # what the wrapper stands in for
    wrapper: Callable[..., Any] | None = None


_local = threading.local()  # .stack: [(match, hits)], innermost last; .busy; .inside


def _stack() -> list[tuple[Match, list[int]]]:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def _interpolate(input: Any, *args: Any, **kwargs: Any) -> Any:
    if getattr(_local, "inside", False):  # a wrapper chain came back to us: break the cycle
        return _FALLBACK(input, *args, **kwargs)
    _local.inside = True
    try:
        return _dispatch(input, args, kwargs)
    finally:
        _local.inside = False


def _dispatch(input: Any, args: tuple, kwargs: dict) -> Any:
    host = _Installed.host
    assert host is not None
    stack = getattr(_local, "stack", None)
    if stack and not getattr(_local, "busy", False):
        call = interpolate_call(args, kwargs)
        if call is not None:
            for match, hits in reversed(stack):
                found = match(input, call)
                if found is not None:
                    hits[0] += 1
                    _local.busy = True  # our own resize calls interpolate: straight to torch
                    _local.inside = False
                    try:
                        return resize(input, *found)
                    finally:
                        _local.busy = False
                        _local.inside = True
    return host(input, *args, **kwargs)


@contextlib.contextmanager
def redirect_interpolate(match: Match) -> Iterator[list[int]]:
    """Within the block, this thread's interpolate calls that ``match`` claims run our resize.

    ``match(input, call)`` gets the call's arguments by name and returns (size, method) or
    None; the block gets a one-item list counting the redirected calls. Blocks nest and
    overlap across threads; the wrapper leaves ``torch.nn.functional`` with the last of them
    (unless something else has wrapped it since, which then keeps calling through).
    """
    functional = torch.nn.functional
    with _Installed.lock:
        if _Installed.users == 0:
            current = functional.interpolate
            if current is not _interpolate:  # else another extension put ours back after we left
                _Installed.host = current
            _Installed.wrapper = _interpolate
            functional.interpolate = _interpolate
        _Installed.users += 1
    entry: tuple[Match, list[int]] = (match, [0])
    stack = _stack()
    stack.append(entry)
    try:
        yield entry[1]
    finally:
        stack.remove(entry)
        with _Installed.lock:
            _Installed.users -= 1
            if _Installed.users == 0 and functional.interpolate is _Installed.wrapper:
                functional.interpolate = _Installed.host


def interpolate_call(args: tuple, kwargs: dict) -> dict[str, Any] | None:
    """interpolate's arguments after ``input`` by name, or None when they don't bind."""
    if len(args) > len(_INTERPOLATE_ARGS):
        return None
    call = dict(zip(_INTERPOLATE_ARGS, args, strict=False))
    if set(call) & set(kwargs):
        return None
    call.update(kwargs)
    if set(call) - {*_INTERPOLATE_ARGS, "antialias"}:
        return None
    return call


def call_size(call: dict[str, Any]) -> tuple[int, int] | None:
    """The call's ``size`` as (height, width) ints, or None when it has no 2-D size."""
    try:
        size = tuple(int(s) for s in call.get("size"))  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    return size if len(size) == 2 else None  # type: ignore[return-value]


def resize(latent: torch.Tensor, size: tuple[int, int], method: str) -> torch.Tensor:
    """The latent resized by ``method``, checked to be what the host expects back."""
    if latent.dim() != 4:
        raise ValueError(
            f"{LOG_PREFIX} expects a 4-D latent [batch, channels, height, width], "
            f"got shape {tuple(latent.shape)}"
        )
    out = upscale(latent, size, method)
    if tuple(out.shape) != (*latent.shape[:2], *size):
        raise RuntimeError(
            f"{LOG_PREFIX} method {method!r} returned shape {tuple(out.shape)}, "
            f"expected {(*latent.shape[:2], *size)}"
        )
    return out.to(device=latent.device, dtype=latent.dtype)
