"""Modules loaded on first use (the standard library's ``importlib.util.LazyLoader`` recipe).

For what a start-up path names but does not use before its first frame (psutil in the telemetry
module: the TUI samples only after drawing). Names looked up on the module load it, once, in
whichever thread asks first; the import lock keeps that safe.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """``name``, imported when one of its attributes is first read (already imported: that module)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
