"""Wrapping a host function once, so that it always calls the newest implementation.

The package may be imported a second time (a tool that reloads extension modules) while the
host keeps the classes and modules it wrapped the first time. A wrapper installed here looks its
implementation up at each call, so the code imported last runs, and a second install only
replaces that implementation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

_HOOKS = "_latent_upscale_hooks"  # on a wrapped class / module: {name: current implementation}


def hook(owner: Any, name: str, implementation: Callable[..., Any]) -> bool:
    """Wrap ``owner.name`` once so that it calls ``implementation(original, *args, **kwargs)``.

    Later calls only replace the implementation. Returns True when the wrapper was installed now.
    """
    hooks = vars(owner).get(_HOOKS)
    if hooks is None:
        hooks = {}
        setattr(owner, _HOOKS, hooks)
    installed = name in hooks
    hooks[name] = implementation
    if installed:
        return False
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return vars(owner)[_HOOKS][name](original, *args, **kwargs)

    setattr(owner, name, wrapper)
    return True
