"""The UI and the light pipeline modules never load heavy ML libraries (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import aba_tui

HEAVY = ("torch", "transformers", "trl", "peft", "unsloth", "bitsandbytes", "llama_cpp", "google.genai", "optuna")
LIGHT_PIPELINE = ("pipeline.supervisor", "pipeline.launcher", "pipeline.runstore", "pipeline.config",
                  "pipeline.events", "pipeline.status", "pipeline.checkpoints", "pipeline.worker",
                  "pipeline.doctor", "pipeline.models")


def _loaded_after_import(modules: list[str]) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        f"print(json.dumps([h for h in {HEAVY!r} if h in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_ui_package_loads_no_heavy_library():
    ui_modules = ["aba_tui"] + [m.name for m in pkgutil.walk_packages(aba_tui.__path__, "aba_tui.")]
    assert "aba_tui.cli" in ui_modules
    assert _loaded_after_import(ui_modules) == []


def test_supervisor_and_light_pipeline_load_no_heavy_library():
    assert _loaded_after_import(list(LIGHT_PIPELINE)) == []
