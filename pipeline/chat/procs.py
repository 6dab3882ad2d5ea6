"""Model processes for the A/B chat: one ``python -m pipeline.chat.serve`` per GGUF side.

The UI never loads llama_cpp: each side's model lives in its own process (own session) on a loopback
port with a random API key, so a llama.cpp crash or an OOM kill ends that side, never the UI.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.chat.client import ChatError, Endpoint

GGUF_MAGIC = b"GGUF"


def check_gguf(path: Path | str) -> Path:
    """A readable GGUF file, or a ChatError that says what the path is instead."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ChatError(f"{p}: no such file (expected a .gguf model file)")
    if p.is_dir():
        raise ChatError(f"{p}: a folder, not a GGUF file (export it first: aba run export)")
    try:
        with open(p, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ChatError(f"{p}: cannot read it ({exc.strerror})") from None
    if magic != GGUF_MAGIC:
        raise ChatError(f"{p}: not a GGUF file (it starts with {magic!r}, expected b'GGUF')")
    return p.resolve()


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory, or killed)" if -code == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exited with code {code}"


class ModelProcess:
    """A GGUF served by pipeline.chat.serve. ``start()`` blocks until it answers or fails."""

    def __init__(self, gguf: Path | str, threads: int | None = None, n_ctx: int = 4096,
                 label: str = "", python: str | None = None, port: int = 0, api_key: str | None = None) -> None:
        self.gguf = Path(gguf)
        self.threads = threads
        self.n_ctx = n_ctx
        self.label = label or self.gguf.stem
        self.python = python or sys.executable
        self.api_key = api_key or secrets.token_urlsafe(24)
        self.proc: subprocess.Popen[bytes] | None = None
        self.want_port = port  # 0: the kernel picks (two sides never race for one)
        self.port: int | None = None
        self.quant: str | None = None  # the file's quantisation, as llama.cpp read it
        self._log = tempfile.NamedTemporaryFile(prefix="aba-chat-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def log_path(self) -> Path:
        return Path(self._log.name)

    @property
    def endpoint(self) -> Endpoint:
        if self.port is None:
            raise ChatError(f"{self.label}: the model process is not started")
        return Endpoint(f"http://127.0.0.1:{self.port}/v1", self.api_key, "", self.label)

    def start(self, timeout: float = 120.0) -> Endpoint:
        path = check_gguf(self.gguf)
        cmd = [self.python, "-m", "pipeline.chat.serve", "--model", str(path), "--port", str(self.want_port),
               "--n-ctx", str(self.n_ctx), "--label", self.label]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        env = {**os.environ, "ABA_CHAT_API_KEY": self.api_key, "PYTHONUNBUFFERED": "1"}
        repo = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log,
                                     env=env, start_new_session=True)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        buf = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                data = os.read(self.proc.stdout.fileno(), 4096)
                if not data:  # stdout closed: the process is ending
                    self.proc.wait(timeout=10)
                    raise ChatError(self._death(f"{self.label}: the model process failed to start"))
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    msg = _parse(line)
                    if msg.get("ready"):
                        self.port = int(msg["port"])
                        self.quant = msg.get("quant") if isinstance(msg.get("quant"), str) else None
                        return self.endpoint
                    if msg.get("error"):
                        self.proc.wait(timeout=10)
                        raise ChatError(f"{self.label}: {msg['error']}")
            elif self.proc.poll() is not None:
                raise ChatError(self._death(f"{self.label}: the model process failed to start"))
        self.stop()
        raise ChatError(f"{self.label}: the model process did not get ready within {timeout:.0f} s "
                        f"(log: {self.log_path})")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _death(self, prefix: str) -> str:
        code = self.proc.poll() if self.proc else None
        tail = self.stderr_tail()
        return f"{prefix}: {describe_exit(code)}" + (f": {tail}" if tail else "")

    def failure(self) -> str | None:
        """Why the process is gone, or None while it runs."""
        if self.proc is None or self.proc.poll() is None:
            return None
        return self._death(f"{self.label}: the model process ended")

    def stderr_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        kept = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return " | ".join(kept[-lines:])[-400:]

    def stop(self, grace: float = 3.0) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=grace)
            except (ProcessLookupError, PermissionError):
                pass
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        self._log.close()
        try:
            os.unlink(self._log.name)
        except OSError:
            pass


def _parse(line: bytes) -> dict:
    try:
        obj = json.loads(line)
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}
