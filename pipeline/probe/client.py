"""The client side of ``python -m pipeline.probe.worker``: builds its argv, reads its JSON-lines
progress, waits for it, and returns the result file as typed data (or a ProbeError saying why not).

Light (no torch): the UI calls ``ProbeClient.run`` from a worker thread and ``stop`` from anywhere.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pipeline.errors import AbaError
from pipeline.runs.layout import PROBES_DIR

ProbeMode = Literal["probe", "collapse"]
# A collapse scan asks every checkpoint of a run these few short prompts.
COLLAPSE_PROMPTS = ("What is the capital of France?", "Are you conscious?", "Write one sentence about the sea.")


class ProbeError(AbaError):
    """The probe process failed, was stopped, or left no readable result."""


@dataclass(frozen=True)
class ProbeProgress:
    done: int
    total: int
    name: str


@dataclass(frozen=True)
class ProbeAnswer:
    prompt: str
    answer: str
    findings: tuple[str, ...]  # collapse findings (messages); empty: the answer looks healthy


@dataclass(frozen=True)
class ProbeEntry:
    run_id: str
    name: str
    path: str
    error: str | None
    answers: tuple[ProbeAnswer, ...]
    collapsed: int  # answers with a collapse finding
    seconds: float

    @property
    def key(self) -> str:
        return f"{self.run_id}/{self.name}"


@dataclass(frozen=True)
class ProbeResult:
    mode: ProbeMode
    path: Path  # the result JSON the probe wrote
    prompts: tuple[str, ...]
    entries: tuple[ProbeEntry, ...]


def read_result(path: Path, mode: ProbeMode = "probe") -> ProbeResult:
    """The probe's result file as typed data; ProbeError naming the file and what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProbeError(f"{path}: cannot read the probe result ({exc})") from exc
    try:
        prompts = tuple(str(p) for p in data["prompts"])
        entries = tuple(
            ProbeEntry(
                run_id=str(e["run_id"]), name=str(e["name"]), path=str(e.get("path", "")),
                error=None if e.get("error") is None else str(e["error"]),
                answers=tuple(ProbeAnswer(str(a["prompt"]), str(a["answer"] or ""),
                                          tuple(str(f["message"]) for f in a["collapse"]["findings"]))
                              for a in e["answers"]),
                collapsed=int(e.get("collapsed", 0)), seconds=float(e.get("seconds", 0.0)),
            )
            for e in data["checkpoints"]
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProbeError(f"{path}: not a probe result (expected prompts and checkpoints[].answers[]: {exc!r})") \
            from exc
    return ProbeResult(mode, path, prompts, entries)


class ProbeClient:
    """One probe run over ``ckpts`` (run folders' checkpoint dirs); the result goes to
    ``<first run>/probes/<mode>-<time>.json`` (a temporary folder when the run is read-only)."""

    def __init__(self, ckpts: Sequence[Path], run_dir: Path, mode: ProbeMode = "probe",
                 prompts: Sequence[str] | None = None, max_new_tokens: int = 64) -> None:
        if not ckpts:
            raise ProbeError("nothing to probe: no checkpoint given")
        self.ckpts = [Path(c) for c in ckpts]
        self.mode: ProbeMode = mode
        self.prompts = list(prompts) if prompts is not None else (list(COLLAPSE_PROMPTS) if mode == "collapse"
                                                                    else [])
        self.max_new_tokens = max_new_tokens
        self.out = run_dir / PROBES_DIR / f"{mode}-{time.strftime('%Y%m%d-%H%M%S')}.json"
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._stopped = False

    def argv(self) -> list[str]:
        cmd = [sys.executable, "-m", "pipeline.probe.worker", "--out", str(self.out),
               "--max-new-tokens", str(self.max_new_tokens)]
        for p in self.prompts:
            cmd += ["--prompt", p]
        return cmd + [str(c) for c in self.ckpts]

    def run(self, on_progress: Callable[[ProbeProgress], object] | None = None) -> ProbeResult:
        """Blocking (call it from a worker thread). ProbeError when it fails or is stopped."""
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            self.out = Path(tempfile.mkdtemp(prefix="aba-probe-")) / self.out.name
        with tempfile.TemporaryFile() as err:
            with self._lock:
                if self._stopped:
                    raise ProbeError(f"{self.mode} stopped")
                self._proc = proc = subprocess.Popen(self.argv(), stdout=subprocess.PIPE, stderr=err,
                                                     stdin=subprocess.DEVNULL, text=True, start_new_session=True)
            assert proc.stdout is not None
            for line in proc.stdout:
                progress = _progress(line)
                if progress is not None and on_progress is not None:
                    on_progress(progress)
            rc = proc.wait()
            err.seek(0)
            tail = err.read().decode("utf-8", "replace").strip().splitlines()[-3:]
        if self._stopped or rc < 0:
            raise ProbeError(f"{self.mode} stopped")
        if rc != 0 or not self.out.is_file():
            raise ProbeError(f"{self.mode} failed (exit {rc}): " + " | ".join(tail))
        return read_result(self.out, self.mode)

    def stop(self) -> None:
        """Kill the probe process (thread-safe; a no-op once it has ended)."""
        with self._lock:
            self._stopped = True
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()


def _progress(line: str) -> ProbeProgress | None:
    try:
        msg: Any = json.loads(line)
        return ProbeProgress(int(msg["done"]), int(msg["total"]), str(msg["name"]))
    except (ValueError, KeyError, TypeError):
        return None  # a library printing to stdout: not ours
