"""A run folder is input: reading one (`aba ps`, `aba status PATH`, the control centre) runs nothing it
names, and `aba resume` refuses a folder someone else could have written."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.config.run import build_config
from pipeline.errors import AbaError
from pipeline.runs import launcher
from pipeline.runs.status import TERMINAL, read_status
from tests.pipeline.runs.test_notify import Hook
from tests.support.cli import aba

END = set(TERMINAL) | {"lost"}


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def crafted(root: Path, marker: Path, name: str = "20250101-0000-selftest-evil") -> Path:
    """A folder whose status says running under a dead supervisor (so readers see it lost) and whose run.toml
    asks for a shell command on every notification."""
    path = root / name
    path.mkdir(parents=True)
    (path / "run.toml").write_text(f'stage = "selftest"\n[selftest]\n[supervisor]\nnotify_on = ["lost"]\n'
                                   f'notify_command = "touch {marker}"\n')
    status = {"run_id": name, "stage": "selftest", "state": "running", "host": socket.gethostname(),
              "supervisor_pid": dead_pid(), "supervisor_start": 1, "pid": None, "attempt": 1,
              "updated_at": time.time(), "started_at": time.time() - 60}
    (path / "status.json").write_text(json.dumps(status))
    return path


@pytest.fixture
def user_hook(tmp_path, monkeypatch):
    hook = Hook()
    conf = tmp_path / "user-config.toml"
    conf.write_text(f'[notify]\non = ["lost"]\n[notify.webhooks.mine]\nurl = "{hook.url}/lost"\n')
    monkeypatch.setenv("ABA_CONFIG", str(conf))
    yield hook
    hook.close()


def test_aba_ps_and_status_of_a_crafted_folder_run_nothing(tmp_path, user_hook):
    marker = tmp_path / "pwned"
    runs = tmp_path / "runs"
    path = crafted(runs, marker)
    elsewhere = crafted(tmp_path / "downloads", marker, "20250101-0001-selftest-downloaded")
    ps = aba("ps", "--json", runs_dir=runs)
    assert ps.returncode == 0 and json.loads(ps.stdout)[0]["state"] == "lost"
    st = aba("status", str(elsewhere), runs_dir=runs)
    assert st.returncode == 0 and "lost" in st.stdout
    time.sleep(1.0)  # a background notifier would have run by now
    assert not marker.exists()
    assert not (path / "notify.lost").exists() and not (elsewhere / "notify.lost").exists()  # readers write nothing
    assert user_hook.posts == []  # and announce nothing: that is the UI's job, with the user's notifier


def test_resume_refuses_a_folder_someone_else_could_have_written(store):
    run_id, path = launcher.launch(store, build_config("selftest", sets=["selftest.steps=3",
                                                                          "selftest.behaviour=crash"]))
    assert launcher.wait_for(store, run_id, END) == "failed"  # resumable (a succeeded run refuses anyway)
    os.chmod(path, 0o775)
    with pytest.raises(AbaError, match=r"writable by group or others \(mode 775\)"):
        launcher.resume(store, run_id)
    os.chmod(path, 0o755)
    os.chmod(path / "run.toml", 0o666)
    with pytest.raises(AbaError, match=r"run.toml is writable by group or others"):
        launcher.resume(store, run_id)
    os.chmod(path / "run.toml", 0o644)
    (path / "checkpoints").mkdir(exist_ok=True)  # the crash came before its first checkpoint
    (path / "checkpoints").rename(path / "ck")
    (path / "checkpoints").symlink_to(path / "ck")
    with pytest.raises(AbaError, match=r"checkpoints is a symbolic link"):
        launcher.resume(store, run_id)
    (path / "checkpoints").unlink()
    (path / "ck").rename(path / "checkpoints")
    os.chown(path, 65534, 65534)  # nobody's (we run as root here; the rule is ownership, not access)
    try:
        res = aba("resume", run_id, runs_dir=store.root)
        assert res.returncode == 2 and res.stderr.count("\n") == 1 and "belongs to" in res.stderr, res.stderr
    finally:
        os.chown(path, os.getuid(), os.getgid())
    assert read_status(path).state == "failed" and read_status(path).attempt == 1  # nothing changed
    launcher.resume(store, run_id)
    assert launcher.wait_for(store, run_id, END) == "failed" and read_status(path).attempt == 2


def test_notify_commands_get_a_minimal_environment(tmp_path, monkeypatch):
    from pipeline.runs.notify import Notice, run_command

    monkeypatch.setenv("SOME_API_KEY", "secret-value-123456")
    monkeypatch.setenv("DG_GENERATOR_CRED", "another-secret-9876")
    out = tmp_path / "env.txt"
    assert run_command(f"env > {out}", Notice("r1", "failed", "boom"), 10, tmp_path) == 0
    env = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    assert env["ABA_RUN_ID"] == "r1" and env["ABA_STATE"] == "failed" and "PATH" in env
    assert "SOME_API_KEY" not in env and "DG_GENERATOR_CRED" not in env
    assert not {k for k in env if k not in ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE",
                                            "TZ", "TMPDIR", "TERM", "PWD", "SHLVL", "_", "OLDPWD")
                and not k.startswith("ABA_")}


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # what a crafted directions.pt runs when unpickled without weights_only
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_directions_pt_is_refused_not_run(tmp_path):
    import torch

    from pipeline.abliterate.runner import _directions

    marker = tmp_path / "pwned"
    torch.save({"d": _Payload(marker)}, tmp_path / "directions.pt")
    (tmp_path / "directions.json").write_text("{}")
    with pytest.raises(Exception, match=r"[Ww]eights only load failed|Unsupported global"):
        _directions(tmp_path, None, None, [], [])  # type: ignore[arg-type]
    assert not marker.exists()
