"""The light parts of export, chat and the checkpoint tools load no heavy ML library (the UI imports
them); checked in a fresh interpreter, like tests/test_import_hygiene.py."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "trl", "peft", "unsloth", "bitsandbytes", "llama_cpp", "google.genai", "optuna",
         "textual")
LIGHT = ("pipeline.chat.client", "pipeline.chat.procs", "pipeline.chat.session", "pipeline.chat.votes",
         "pipeline.chat.battery", "pipeline.export", "pipeline.export.select", "pipeline.export.convert",
         "pipeline.ckpt_tools", "pipeline.collapse", "pipeline.stages.export", "pipeline.ckpt_probe",
         "pipeline.export.baseline")


def test_light_modules_load_no_heavy_library_nor_textual() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for m in {LIGHT!r}:\n"
        "    importlib.import_module(m)\n"
        f"print(json.dumps([h for h in {HEAVY!r} if h in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


def test_chat_screens_load_no_heavy_library() -> None:
    code = (
        "import importlib, json, sys\n"
        "for m in ('aba_tui.screens.chat', 'aba_tui.screens.checkpoints', 'aba_tui.screens.chat_battery',\n"
        "          'aba_tui.screens.ckpt_dialogs'):\n"
        "    importlib.import_module(m)\n"
        f"print(json.dumps([h for h in {HEAVY[:-1]!r} if h in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []
