"""One redaction for every credential: a server that echoes every header it got (keys included) into its
errors, and no canary key lands in any file of the run folder, for any configured key variable."""

from __future__ import annotations

import json
import os
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.config.run import build_config
from pipeline.redact import redact, register_env, register_url
from pipeline.runs import launcher
from pipeline.runs.status import TERMINAL

END = set(TERMINAL) | {"lost"}
GEN_KEY = "canary-GEN-7f3a9c1e5b2d4086"
JUDGE_KEY = "canary-JUDGE-0b8e2f6a4c1d9375"
EVAL_KEY = "canary-EVAL-5d7c3b9a1e0f2468"
HOOK_TOKEN = "canary-HOOK-9a1b2c3d4e5f6071"


class Echo(BaseHTTPRequestHandler):
    """Answers every request with HTTP 400 whose error message holds every request header, as careless
    servers and proxies do."""

    def log_message(self, *a: object) -> None:
        pass

    def _echo(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        # Credentials first, so that a client cutting the message short still carries them.
        items = sorted(self.headers.items(), key=lambda kv: not any(w in kv[0].lower() for w in ("key", "auth")))
        seen = "; ".join(f"{k}: {v}" for k, v in items)
        body = json.dumps({"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                     "message": f"bad request to {self.path} (headers: {seen})"}}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET = _echo


@pytest.fixture
def echo():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def no_canary_in(folder: Path, *canaries: str) -> int:
    n = 0
    for f in folder.rglob("*"):
        if f.is_file() and not f.is_symlink():
            data = f.read_bytes()
            for c in canaries:
                assert c.encode() not in data, f"{c} in {f}"
            n += 1
    return n


@pytest.mark.parametrize("backend", ["gemini", "openai"])
def test_keys_echoed_by_a_server_reach_no_file_of_the_run(store, echo, tmp_path, monkeypatch, backend):
    # Key variables whose names say nothing: only the config's api_key_env tells they hold keys.
    monkeypatch.setenv("DG_GENERATOR_CRED", GEN_KEY)
    monkeypatch.setenv("DG_SCORER_CRED", JUDGE_KEY)
    conf = tmp_path / "config.toml"
    conf.write_text(f'[notify]\non = ["failed", "succeeded"]\nretries = 1\n[notify.webhooks.team]\n'
                    f'url = "{echo}/hook/{HOOK_TOKEN}"\nheaders = {{ Authorization = "Bearer {HOOK_TOKEN}" }}\n')
    monkeypatch.setenv("ABA_CONFIG", str(conf))
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"p{i}", "category": "safety", "turns": [f"question {i}"]}) + "\n"
                               for i in range(2)))
    base = echo if backend == "gemini" else f"{echo}/v1"
    cfg = build_config("datagen", sets=[
        f"datagen.prompts={json.dumps(str(prompts))}", f"datagen.backend={backend}", f'datagen.base_url="{base}"',
        'datagen.model="m"', "datagen.api_key_env=DG_GENERATOR_CRED", "datagen.retries=0", "datagen.traces=3",
        f"judge.backend={backend}", f'judge.base_url="{base}"', 'judge.model="j"', "judge.api_key_env=DG_SCORER_CRED",
        "judge.retries=0"])
    run_id, path = launcher.launch(store, cfg)
    state = launcher.wait_for(store, run_id, END, timeout=180)
    assert state in ("succeeded", "failed")
    items = (path / "data" / "items.jsonl").read_text()
    assert "headers:" in items and "***" in items  # the echo reached the items, masked
    assert stat.S_IMODE((path / "data" / "items.jsonl").stat().st_mode) == 0o600
    for name in ("stdout.log", "stderr.log", "supervisor.log"):
        if (path / name).exists():
            assert stat.S_IMODE((path / name).stat().st_mode) == 0o600, name
    assert no_canary_in(path, GEN_KEY, JUDGE_KEY, HOOK_TOKEN) >= 5


def test_eval_answers_from_an_endpoint_never_hold_the_eval_key(echo, tmp_path, monkeypatch):
    from pipeline.evaluate.models import parse_ref
    from pipeline.evaluate.probe import Setting, Task, collect, read_rows

    monkeypatch.setenv("ABA_EVAL_API_KEY", EVAL_KEY)
    out = tmp_path / "run" / "eval" / "probes.jsonl"
    tasks = [Task("q0", [{"role": "user", "content": "hi"}], Setting("t0", 0.0, 1.0, 8), 0, {})]
    collect(parse_ref(f"{echo}/v1"), tasks, out)
    rows = read_rows(out)
    assert rows[0]["error"] and "***" in rows[0]["error"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert no_canary_in(tmp_path / "run", EVAL_KEY) == 1


def test_redact_masks_every_form_a_server_may_echo(monkeypatch):
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "tok/with+special=chars")  # a name that says secret
    monkeypatch.setenv("PLAIN_SETTING", "not-a-secret-value")
    text = ("a tok/with+special=chars b tok%2Fwith%2Bspecial%3Dchars c tok%2Fwith%2Bspecial%3Dchars "
            "https://alice:pa55word@hooks.example/x?y=1 not-a-secret-value")
    out = redact(text)
    assert "tok/with" not in out and "tok%2F" not in out and "pa55word" not in out and "alice" not in out
    assert "https://***@hooks.example/x" in out and "not-a-secret-value" in out
    register_url("hooks.example/services/T000/B000/XXXXsecretXXXX")  # a webhook without a scheme
    assert "XXXXsecretXXXX" not in redact("posting to hooks.example/services/T000/B000/XXXXsecretXXXX failed")
    os.environ.pop("SOME_SERVICE_TOKEN")


def test_the_judges_errors_go_through_the_one_redaction(monkeypatch):
    from pipeline.judge import failures

    assert failures.redact is redact  # one implementation, not a second list of names
    key = "vendor-" + "k7" * 12
    monkeypatch.setenv("MY_VENDOR_CRED", key)  # a name that says nothing: the config names it
    register_env("MY_VENDOR_CRED")
    err = failures.http_error(401, f"API key not valid: {key}", body={"error": {"message": key}})
    assert key not in str(err) and key[:8] not in str(err) and "***" in str(err)
