"""The control centre over run folders that are traps: a crafted notify command, a nested-JSON line, a 256 MB
single line, FIFOs and a status of the wrong types. It stays alive, lists every run, and runs nothing a
folder names."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.runs.test_bad_files import bad_runs_dir
from tests.pipeline.runs.test_notify import Hook
from tests.pipeline.runs.test_untrusted import crafted
from tests.support.tui import make_app, wait_until

pytestmark = pytest.mark.asyncio


async def test_the_ui_announces_a_lost_run_with_its_users_notifier_never_the_folders(tmp_path: Path, monkeypatch):
    hook = Hook()
    try:
        conf = tmp_path / "user-config.toml"
        conf.write_text(f'[notify]\non = ["lost"]\n[notify.webhooks.mine]\nurl = "{hook.url}/lost"\n')
        monkeypatch.setenv("ABA_CONFIG", str(conf))
        marker = tmp_path / "pwned"
        path = crafted(tmp_path / "runs", marker)
        app = make_app(tmp_path, runs_dir=tmp_path / "runs")
        async with app.run_test(size=(160, 50)) as pilot:
            await wait_until(pilot, lambda: len(hook.posts) == 1, what="the user's webhook")
            log = path / "notify.log"
            await wait_until(pilot, lambda: log.exists() and "sent" in log.read_text(), what="notify.log")
        assert hook.posts[0][1]["state"] == "lost" and hook.posts[0][1]["run_id"] == path.name
        assert not marker.exists()  # run.toml's notify_command never ran
    finally:
        hook.close()


async def test_the_ui_stays_alive_over_bad_files_and_lists_every_run(tmp_path: Path):
    runs = tmp_path / "runs"
    want = bad_runs_dir(runs)
    app = make_app(tmp_path, runs_dir=runs)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: app.model.passes >= 2, timeout=30, what="two watcher passes")
        rows = {r.run_id: r for r in app.model.rows()}
        assert {rid: rows[rid].state for rid in want} == want
        assert "FIFO" in (rows["20250101-0003-selftest-fifo-live"].reason or "")
        passes = app.model.passes
        app.model.wake.set()
        await wait_until(pilot, lambda: app.model.passes > passes + 2, timeout=30, what="the watcher going on")
        assert not [w for w in app.workers if w.group == "watch" and w.error is not None]
        await pilot.press("question_mark")  # the app still answers keys
        await pilot.pause(0.2)
