"""Layers, proven in a fresh interpreter: the UI loads no heavy ML library, and no module of
``pipeline`` loads one (nor Textual) at import time, except the few that only a worker imports."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import aba_tui
import pipeline

HEAVY = ("torch", "transformers", "trl", "peft", "unsloth", "bitsandbytes", "llama_cpp", "google.genai", "optuna")
# Imported only inside worker processes, and allowed to load torch & co. at module level.
WORKER_ONLY = {"pipeline.train.callback",
               # abliteration's model side (the light parts: config, prompts, refusal, pareto, report, kernel)
               *(f"pipeline.abliterate.{m}" for m in ("ablate", "engine", "directions", "objectives", "runner",
                                                       "gguf_eval", "heal_eval"))}


def _loaded_after_import(modules: list[str], watch: tuple[str, ...]) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        f"print(json.dumps([h for h in {watch!r} if h in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _walk(package) -> list[str]:
    return [package.__name__] + [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]


def test_ui_package_loads_no_heavy_library():
    ui_modules = _walk(aba_tui)
    assert {"aba_tui.cli", "aba_tui.app", "aba_tui.screens.chat", "aba_tui.screens.checkpoints"} <= set(ui_modules)
    assert _loaded_after_import(ui_modules, (*HEAVY, "sklearn")) == []  # the stance classifier: workers only


def test_pipeline_modules_load_neither_heavy_libraries_nor_textual():
    modules = [m for m in _walk(pipeline) if m not in WORKER_ONLY]
    wanted = {"pipeline.runs.supervisor", "pipeline.runs.launcher", "pipeline.stages.dpo", "pipeline.chat.client"}
    assert wanted <= set(modules)
    assert _loaded_after_import(modules, (*HEAVY, "datasets", "textual", "sklearn")) == []
