"""The one place numba compiles.

Every kernel module decorates with ``kernels._jit.njit`` so the shared options (``cache``, ``nogil``,
``fastmath`` off so results match the references bit for bit) live here. ``HARNESS_NO_JIT=1`` runs every
kernel as plain Python, for debugging and for the JIT-off half of the kernel tests; it is read once at
import, never flipped at run time (a module-level switch flipped in tests is the anti-pattern we avoid).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

JIT_ENABLED: bool = os.environ.get("HARNESS_NO_JIT", "") not in ("1", "true", "yes")

_DEFAULTS = {"cache": True, "nogil": True, "fastmath": False, "boundscheck": False}

if JIT_ENABLED:
    import numba as _numba


def njit(*signature: Any, **options: Any) -> Callable:
    """``numba.njit`` with the project's options, or the identity when the JIT is off.

    Usable bare (``@njit``) or with a signature / options (``@njit("void(uint8[:])", parallel=False)``).
    """
    if len(signature) == 1 and callable(signature[0]) and not options:
        return njit()(signature[0])
    opts = {**_DEFAULTS, **options}

    def wrap(fn: Callable) -> Callable:
        if not JIT_ENABLED:
            return fn
        return _numba.njit(*signature, **opts)(fn)

    return wrap


# numba recognises its own prange object inside compiled code; plain range runs the same loop serially.
prange = _numba.prange if JIT_ENABLED else range
