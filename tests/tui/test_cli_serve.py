"""`aba serve EXPORT`: a real chat completion over loopback with its API key, refused without it, and
nothing left running after ctrl+c; bad references are one line and exit 2."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import psutil
import pytest

from pipeline.atomic import atomic_write_json
from pipeline.config.run import build_config
from pipeline.models.embedded import embedded_gguf_path
from pipeline.runs.status import read_status_raw, write_status
from pipeline.runs.store import RunStore
from tests.support.cli import aba, as_from_a_shell
from tests.support.paths import REPO


def _export_run(store: RunStore) -> str:
    rid, path = store.create_run(build_config("export"))
    st = read_status_raw(path)
    st.state = "succeeded"
    write_status(path, st)
    (path / "exports").mkdir()
    gguf = path / "exports" / f"{rid}-best-Q4_1.gguf"
    shutil.copyfile(embedded_gguf_path(), gguf)
    atomic_write_json(gguf.with_suffix(".json"), {"quant": "Q4_1", "size_bytes": gguf.stat().st_size,
                                                  "created_at": 1.0, "verify": {"ok": True}})
    return rid


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _post(url: str, body: dict, key: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    req = urllib.request.Request(url, json.dumps(body).encode(), headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_serve_answers_an_openai_chat_request_with_its_key_only(store: RunStore) -> None:
    rid = _export_run(store)
    cmd = [sys.executable, "-m", "aba_tui", "serve", rid[:16], "--runs-dir", str(store.root), "--port", "0",
           "--api-key", "k-123", "--threads", "1"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=as_from_a_shell)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith(f"serving {rid}-best-Q4_1 (Q4_1) at http://127.0.0.1:"), first + proc.stderr.read()
        base = first.split(" at ")[1].strip()
        assert proc.stdout.readline().strip() == "API key: k-123"
        server = [c for c in psutil.Process(proc.pid).children(recursive=True)]
        assert server, "the model server is a child process"
        body = {"model": f"{rid}-best-Q4_1", "messages": [{"role": "user", "content": "Say hello."}],
                "max_tokens": 8, "temperature": 0}
        code, out = _post(f"{base}/chat/completions", body, "k-123")
        assert code == 200 and out["object"] == "chat.completion" and out["choices"][0]["message"]["content"]
        assert out["model"] == f"{rid}-best-Q4_1" and out["usage"]["completion_tokens"] > 0
        assert _post(f"{base}/chat/completions", body, None)[0] == 401
        assert _post(f"{base}/chat/completions", body, "wrong")[0] == 401
        req = urllib.request.Request(f"{base}/models", headers={"Authorization": "Bearer k-123"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert [m["id"] for m in json.loads(resp.read())["data"]] == [f"{rid}-best-Q4_1"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in server) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(p) for p in server)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize(("ref", "says"), [("nope.gguf", "nope.gguf: no such GGUF file"),
                                           ("no-such-run", "no such run")])
def test_serve_refuses_what_it_cannot_serve_in_one_line(store: RunStore, ref: str, says: str) -> None:
    store.root.mkdir(parents=True, exist_ok=True)
    out = aba("serve", ref, runs_dir=store.root)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and says in out.stderr, out.stderr


def test_serve_of_a_run_without_an_export_says_so(store: RunStore) -> None:
    rid, _path = store.create_run(build_config("dpo"))
    out = aba("serve", rid, runs_dir=store.root)
    assert out.returncode == 2 and "no export in this run" in out.stderr and str(store.root.resolve()) in out.stderr
