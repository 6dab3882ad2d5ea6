"""HF folder → GGUF with llama.cpp's own convert_hf_to_gguf.py, run as a subprocess.

The script comes from the llama-cpp-python sdist that set-up unpacks to pipeline.models.embedded.converter_dir()
(never copied into this repo); it runs with this venv's python so it sees the same torch. Its
pre-tokenizer hash check is the one place an unknown tokenizer is caught before a GGUF that
tokenises differently from training is written: that failure gets a message saying what to do.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from pipeline.errors import AbaError
from pipeline.models.embedded import converter_dir


class ExportError(AbaError):
    """The export cannot go on; the message names the input and what to do."""


CONVERTER = "convert_hf_to_gguf.py"


def converter_script() -> Path:
    script = converter_dir() / CONVERTER
    if not script.is_file():
        raise ExportError(f"{script}: llama.cpp's converter is missing; run scripts/setup.sh (it unpacks "
                          "convert_hf_to_gguf.py from the llama-cpp-python sdist), or set ABA_LLAMA_CPP_DIR")
    return script


def converter_version() -> str:
    try:
        return (converter_dir() / "VERSION").read_text().strip()
    except OSError:
        return "unknown"


def explain_failure(log: str, hf_dir: Path) -> str:
    """One actionable line for the converter's known failures; else the last lines of its log."""
    if "pre-tokenizer was not recognized" in log:
        m = re.search(r"chkhsh:\s*([0-9a-f]{16,})", log)
        digest = f" (chkhsh {m.group(1)[:16]}…)" if m else ""
        return (f"{hf_dir}: unknown tokenizer{digest}: llama.cpp's converter {converter_version()} does not "
                "recognise this model's BPE pre-tokenizer, so the GGUF would tokenise differently from "
                "training. Keep the base model's original tokenizer files in the checkpoint (do not edit "
                "tokenizer.json's pre_tokenizer), or update llama-cpp-python and re-run scripts/setup.sh "
                "so its converter knows this tokenizer")
    m = re.search(r"Model (\S+) is not supported", log)
    if m:
        return (f"{hf_dir}: architecture {m.group(1)} is not supported by llama.cpp's converter "
                f"{converter_version()}; update llama-cpp-python and re-run scripts/setup.sh")
    if "config.json" in log and ("No such file" in log or "FileNotFoundError" in log):
        return f"{hf_dir}: not an HF model folder (config.json missing)"
    lines = [ln for ln in log.strip().splitlines() if ln.strip()]
    return f"{hf_dir}: the converter failed: " + " | ".join(lines[-3:])[-600:]


def convert_hf(hf_dir: Path, outfile: Path, outtype: str = "f16", log_path: Path | None = None,
               stop: threading.Event | None = None, on_line: Callable[[str], None] | None = None) -> Path:
    """Write ``outfile`` (atomically: a temp name, renamed when the converter succeeds)."""
    script = converter_script()
    outfile.parent.mkdir(parents=True, exist_ok=True)
    tmp = outfile.with_name(f".{outfile.name}.part")
    cmd = [sys.executable, str(script), str(hf_dir), "--outfile", str(tmp), "--outtype", outtype]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1"}
    env.pop("NO_LOCAL_GGUF", None)  # the converter must use its own gguf-py, matching its version
    log: list[str] = []
    proc = subprocess.Popen(cmd, cwd=script.parent, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, text=True, errors="replace")
    assert proc.stdout is not None
    watcher = None
    if stop is not None:
        def watch() -> None:
            while proc.poll() is None:
                if stop.wait(0.2):
                    proc.terminate()
                    return
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
    try:
        with open(log_path, "a", encoding="utf-8") if log_path else open(os.devnull, "w") as fh:
            for line in proc.stdout:
                log.append(line)
                fh.write(line)
                if on_line is not None:
                    on_line(line.rstrip("\n"))
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        tmp.unlink(missing_ok=True)
        raise
    if stop is not None and stop.is_set():
        tmp.unlink(missing_ok=True)
        raise ExportError("conversion stopped on request")
    if rc != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise ExportError(explain_failure("".join(log), hf_dir))
    os.replace(tmp, outfile)
    return outfile
