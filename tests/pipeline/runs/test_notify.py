"""Notifications from the supervisor (pipeline.runs.notify): real detached runs, a loopback HTTP server."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.config.run import build_config
from pipeline.errors import ConfigError
from pipeline.runs import launcher
from pipeline.runs.layout import NOTIFY_LOG
from pipeline.runs.notify import Notice, NotifyConfig, Webhook, announce_lost, for_run, load_user, request_for
from pipeline.runs.procinfo import alive
from pipeline.runs.status import TERMINAL, read_status_raw

END = set(TERMINAL) | {"lost"}
TOKEN = "s3cr3t-t0ken"


class Hook:
    """A loopback endpoint recording each POST; answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.posts: list[tuple[str, dict]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.posts.append((self.path, json.loads(body)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *a: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def user_config(tmp_path: Path, monkeypatch, body: str) -> None:
    monkeypatch.delenv("ABA_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))  # inherited by the supervisors
    (tmp_path / "xdg" / "aba").mkdir(parents=True, exist_ok=True)
    (tmp_path / "xdg" / "aba" / "config.toml").write_text(body)


def wait(cond, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def supervisor_gone(path: Path) -> bool:
    st = read_status_raw(path)
    return st.supervisor_pid is None or not alive(st.supervisor_pid)


def test_sigkilled_run_with_no_ui_posts_once_and_no_token_lands_in_the_run_folder(store, tmp_path, monkeypatch, hook):
    user_config(tmp_path, monkeypatch, f'[notify]\non = ["failed", "oom"]\n'
                                       f'[notify.webhooks.team]\nurl = "{hook.url}/hook/{TOKEN}"\n')
    run_id, path = launcher.launch(store, build_config("selftest", sets=["selftest.behaviour=sleep"]))
    wait(lambda: read_status_raw(path).pid is not None and read_status_raw(path).state == "running", "the worker")
    os.kill(read_status_raw(path).pid, signal.SIGKILL)
    assert launcher.wait_for(store, run_id, END) == "failed"
    wait(lambda: supervisor_gone(path), "the supervisor to exit")
    assert len(hook.posts) == 1
    where, body = hook.posts[0]
    assert where == f"/hook/{TOKEN}"
    assert body["run_id"] == run_id and body["state"] == "failed" and "SIGKILL" in body["reason"]
    assert body["event"] == "end" and body["stage"] == "selftest"
    log = (path / NOTIFY_LOG).read_text()
    assert "webhook team (127.0.0.1:" in log and "sent (1 attempt)" in log
    for f in path.rglob("*"):
        if f.is_file():
            assert TOKEN not in f.read_text(errors="replace"), f


def test_failing_endpoint_is_retried_logged_and_does_not_change_the_end(store, tmp_path, monkeypatch):
    bad = Hook(status=500)
    try:
        user_config(tmp_path, monkeypatch, f'[notify]\nretries = 2\nbackoff_s = 0.05\n'
                                           f'[notify.webhooks.down]\nurl = "{bad.url}/x"\n')
        run_id, path = launcher.launch(store, build_config("selftest", sets=["selftest.steps=2"]))
        assert launcher.wait_for(store, run_id, END) == "succeeded"
        wait(lambda: supervisor_gone(path), "the supervisor to exit")
        assert read_status_raw(path).state == "succeeded" and read_status_raw(path).exit_code == 0
        assert len(bad.posts) == 2  # both attempts
        assert "succeeded → webhook down" in (path / NOTIFY_LOG).read_text()
        assert "FAILED (HTTP 500 after 2 attempts)" in (path / NOTIFY_LOG).read_text()
    finally:
        bad.close()


def test_error_alert_runs_the_run_command_hook(store, tmp_path, monkeypatch):
    user_config(tmp_path, monkeypatch, "")
    out = tmp_path / "hook.out"
    cmd = f'echo "$ABA_STATE $ABA_ALERT $ABA_RUN_ID" >> {out}'
    cfg = build_config("selftest", sets=['selftest.behaviour="nan"', "supervisor.notify_on=alert",
                                         f"supervisor.notify_command={cmd}"])
    run_id, path = launcher.launch(store, cfg)
    assert launcher.wait_for(store, run_id, END) == "failed"
    wait(lambda: supervisor_gone(path), "the supervisor to exit")
    assert out.read_text().splitlines() == [f"alert nan_loss {run_id}"]  # the alert only: "failed" is not in on


def test_lost_run_is_announced_once_by_the_first_reader(store, tmp_path, monkeypatch, hook):
    user_config(tmp_path, monkeypatch, f'[notify.webhooks.n]\nurl = "{hook.url}/runs"\nformat = "slack"\n')
    path = store.root / "20250101-0000-selftest-x"
    path.mkdir(parents=True)
    status = type("S", (), {"run_id": path.name, "reason": None, "stage": "selftest", "host": "h"})()
    assert announce_lost(path, status) is True
    assert announce_lost(path, status) is False
    wait(lambda: len(hook.posts) == 1, "the POST")
    assert hook.posts[0][1] == {"text": f"{path.name} (selftest) lost: the supervisor is gone"}


def test_formats_config_errors_and_per_run_narrowing(tmp_path: Path):
    n = Notice("r1", "failed", "boom", stage="dpo")
    url, body = request_for(Webhook("n", "https://ntfy.example/topic-a", "ntfy"), n)
    assert url == "https://ntfy.example/" and body["topic"] == "topic-a" and body["priority"] == 4
    assert request_for(Webhook("d", "https://d.example/api/x", "discord"), n)[1] == {
        "content": "r1 (dpo) failed: boom"}
    cfg = tmp_path / "config.toml"
    cfg.write_text('[notify]\non = ["failed", "sometimes"]\n')
    with pytest.raises(ConfigError, match=r"config.toml: notify.on=.*expected a list of succeeded"):
        load_user(cfg)
    cfg.write_text('[notify.webhooks.a]\nurl = "ftp://x"\n')
    with pytest.raises(ConfigError, match=r"notify.webhooks.a.url: expected an http\(s\) URL") as exc:
        load_user(cfg)
    assert "ftp://x" not in str(exc.value)  # a webhook URL holds its token: never repeated in a message
    user = NotifyConfig(webhooks=[Webhook("a", "http://127.0.0.1/a"), Webhook("b", "http://127.0.0.1/b")])
    sup = type("Sup", (), {"notify_on": ["off"], "notify_webhooks": ["b"], "notify_command": ""})()
    narrowed = for_run(user, sup)
    assert [w.name for w in narrowed.webhooks] == ["b"] and not narrowed.active
    sup.notify_webhooks = ["c"]
    with pytest.raises(ConfigError, match="'c' is not a webhook of the user config"):
        for_run(user, sup)
