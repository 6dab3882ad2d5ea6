"""The command line as an operator who makes mistakes meets it: the runs dir given before the command, a
runs dir that is a file or missing, Ctrl-C while waiting, values that must be refused before a folder
exists, a read-only runs dir under `aba resume`. One line each, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from pipeline.config.run import build_config
from pipeline.errors import ConfigError
from pipeline.runs import launcher
from pipeline.runs.cluster.slurm import SlurmError, job_script
from pipeline.runs.status import TERMINAL, read_status_raw
from tests.support.cli import ABA, aba, as_from_a_shell
from tests.support.paths import REPO

END = set(TERMINAL) | {"lost"}


def one_line_error(proc: subprocess.CompletedProcess[str], *says: str) -> None:
    assert proc.returncode == 2 and proc.stdout == "", (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    for s in says:
        assert s in proc.stderr, proc.stderr


def test_runs_dir_before_or_after_the_command(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    before = subprocess.run([*ABA, "--runs-dir", str(runs), "run", "selftest", "--set", "selftest.steps=1", "--wait"],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert before.returncode == 0, before.stderr
    run_id = before.stdout.strip()
    assert (runs / run_id / "status.json").exists() and not (tmp_path / "runs-default").exists()
    assert not (tmp_path / "runs" / "runs").exists()
    for argv in (["--runs-dir", str(runs), "ps", "--json"], ["ps", "--json", "--runs-dir", str(runs)]):
        ps = subprocess.run([*ABA, *argv], capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert [r["run_id"] for r in json.loads(ps.stdout)] == [run_id], argv


def test_a_runs_dir_that_is_a_file_or_missing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_line_error(aba("ps", runs_dir=blocker), f"--runs-dir {blocker}: not a folder")
    missing = tmp_path / "nope"
    one_line_error(aba("ps", runs_dir=missing), f"--runs-dir {missing}: no such folder")
    assert not missing.exists()  # a reader never creates it
    deep = tmp_path / "typo" / "runs"
    one_line_error(aba("run", "selftest", runs_dir=deep), "its parent", "does not exist")
    assert not (tmp_path / "typo").exists()  # never grown into a tree
    made = aba("run", "selftest", "--set", "selftest.steps=1", "--wait", runs_dir=missing)
    assert made.returncode == 0 and f"created the runs dir {missing}" in made.stderr, made.stderr


def test_ctrl_c_while_waiting_says_the_run_goes_on(store):
    store.root.mkdir(parents=True)
    proc = subprocess.Popen([*ABA, "run", "selftest", "--runs-dir", str(store.root), "--set",
                             "selftest.behaviour=sleep", "--wait"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=as_from_a_shell)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()  # printed once the run is started
    path = store.root / run_id
    deadline = time.monotonic() + 60
    while read_status_raw(path).state != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err and err.count("\n") == 1, err
    assert f"run {run_id} goes on" in err and f"aba stop {run_id}" in err
    assert read_status_raw(path).state == "running"
    launcher.stop(store, run_id)
    assert launcher.wait_for(store, run_id, END) == "stopped"


def test_bad_values_are_refused_before_a_folder_exists(tmp_path, hub, monkeypatch):
    runs = tmp_path / "runs"
    runs.mkdir()
    one_line_error(aba("run", "dpo", "--set", "dpo.learning_rate=nan", runs_dir=runs),
                   "dpo.learning_rate=nan: expected a finite number")
    one_line_error(aba("run", "dpo", "--set", "dpo.beta=inf", runs_dir=runs), "expected a finite number")
    one_line_error(aba("run", "dpo", "--set", "model.source=nobody/no-such-model", runs_dir=runs),
                   "model.source='nobody/no-such-model': no such model on")
    from pipeline.train.preflight import check_model_source

    check_model_source(build_config("dpo", sets=["model.source=org/exists"]), runs)  # the hub knows it
    check_model_source(build_config("dpo", sets=["model.source=org/gated"]), runs)  # gated: it exists
    with pytest.raises(ConfigError, match=r"no such model on .*a private repo looks the same without HF_TOKEN"):
        check_model_source(build_config("dpo", sets=["model.source=nobody/private-or-missing"]), runs)
    monkeypatch.setenv("HF_TOKEN", "hf_" + "x" * 30)
    with pytest.raises(ConfigError, match=r"no such model on http://127\.0\.0\.1:\d+; expected"):
        check_model_source(build_config("dpo", sets=["model.source=nobody/no-such-model"]), runs)
    monkeypatch.setenv("HF_TOKEN", "bad-token")
    with pytest.raises(ConfigError, match="refuses the token in HF_TOKEN"):
        check_model_source(build_config("dpo", sets=["model.source=org/exists"]), runs)
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: no answer, no run
    one_line_error(aba("run", "dpo", "--set", "model.source=org/exists", runs_dir=runs),
                   "not in the local Hugging Face cache", "http://127.0.0.1:9 cannot be reached")
    # A bare word is no hub id; a run reference is looked up as `aba status` looks it up, in this runs dir.
    one_line_error(aba("run", "dpo", "--set", "model.source=smollm2x", runs_dir=runs),
                   "model.source='smollm2x': no such file or folder, and not a hub id")
    one_line_error(aba("run", "dpo", "--set", "model.source=run:nope", runs_dir=runs),
                   "model.source='run:nope'", f"no such run in {runs}")
    one_line_error(aba("run", "dpo", "--set", "model.source=./no/such/folder", runs_dir=runs), "no such file or folder")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE"):
        check_model_source(build_config("dpo", sets=["model.source=org/cached"]), runs)
    cached = tmp_path / "hf-cache" / "models--org--cached" / "snapshots" / "abc"
    cached.mkdir(parents=True)
    (cached / "config.json").write_text("{}")
    check_model_source(build_config("dpo", sets=["model.source=org/cached"]), runs)  # in the cache: no hub needed
    # A newline in a [slurm] string would become a line of the batch script: refused with the key.
    one_line_error(aba("run", "selftest", "--set", 'slurm.partition="gpu\\nrm -rf ~"', runs_dir=runs),
                   "slurm.partition", "control character '\\n'")
    conf = tmp_path / "bad.toml"
    conf.write_text('stage = "selftest"\n[slurm]\naccount = """a\nsrun evil"""\n')
    one_line_error(aba("run", "--config", str(conf), runs_dir=runs), "slurm.account", "control character")
    assert list(runs.iterdir()) == []  # nothing was made


def test_resume_of_a_succeeded_run_refuses_and_run_sources_resolve_as_status_does(store):
    run_id, path = launcher.launch(store, build_config("selftest", sets=["selftest.steps=1"]))
    assert launcher.wait_for(store, run_id, END) == "succeeded"
    events = (path / "events.jsonl").read_text()
    # Resuming would re-fire its chain (a second export): one line, and the run is left as it was.
    one_line_error(aba("resume", run_id[-6:], runs_dir=store.root),
                   f"run {run_id} succeeded: nothing to resume", f"aba run --config {path / 'run.toml'}")
    assert read_status_raw(path).attempt == 1 and (path / "events.jsonl").read_text() == events
    from pipeline.train.preflight import check_model_source

    # A unique prefix or suffix finds the run, as `aba status` does; what it lacks is named, not "no run".
    for ref in (run_id[:11], run_id[-8:]):
        with pytest.raises(ConfigError, match=r"no complete best or final checkpoint"):
            check_model_source(build_config("dpo", sets=[f"model.source=run:{ref}"]), store.root)
    check_model_source(build_config("dpo", sets=[f"model.source=run:{run_id[-8:]}@latest"]), store.root)
    before = sorted(p.name for p in store.root.iterdir())
    one_line_error(aba("run", "dpo", "--set", f"model.source=run:{run_id[:11]}", runs_dir=store.root),
                   "no complete best or final checkpoint")
    assert sorted(p.name for p in store.root.iterdir()) == before  # no folder for a run that could not start


def test_the_slurm_script_never_holds_a_line_break_even_past_the_config(tmp_path):
    sec = build_config("selftest", sets=["supervisor.launcher=slurm"]).sections["slurm"]
    sec.partition = "gpu\nrm -rf ~"  # set behind the config's back
    with pytest.raises(SlurmError, match="line break"):
        job_script(sec, "r1", tmp_path, False)
    with pytest.raises(ConfigError, match="control character"):
        build_config("eval", sets=['eval.system_prompt="ok\\u0007bell"'])
    assert build_config("eval", sets=['eval.system_prompt="two\\nlines\\tok"']).section("eval").system_prompt == (
        "two\nlines\tok")  # multi-line text may hold newlines and tabs


def test_resume_on_a_read_only_runs_dir_is_one_line(store):
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root")
    run_id, path = launcher.launch(store, build_config("selftest", sets=["selftest.steps=3",
                                                                          "selftest.behaviour=crash"]))
    assert launcher.wait_for(store, run_id, END) == "failed"
    subprocess.run(["mount", "--bind", str(store.root), str(store.root)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(store.root)], check=True)
        res = aba("resume", run_id, runs_dir=store.root)
        one_line_error(res, f"run {run_id}", "Read-only file system")
        assert read_status_raw(path).state == "failed"
    finally:
        subprocess.run(["umount", "-l", str(store.root)], check=True)
    launcher.resume(store, run_id)
    assert launcher.wait_for(store, run_id, END) == "failed" and read_status_raw(path).attempt == 2
