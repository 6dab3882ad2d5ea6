"""The terminal bell and desktop notification escapes (OSC 9 / OSC 777) on error alerts."""

from __future__ import annotations

from pathlib import Path

import pytest

from aba_tui.desktop import desktop_escape


def test_escapes_strip_controls_and_wrap_for_tmux():
    esc = desktop_escape("aba run_failed", "boom\x07; \x1b[2Jgone", "both", tmux=False)
    assert esc == "\x1b]9;aba run_failed: boom    [2Jgone\x07\x1b]777;notify;aba run_failed;boom    [2Jgone\x07"
    assert desktop_escape("t", "b", "osc9", tmux=True) == "\x1bPtmux;\x1b\x1b]9;t: b\x07\x1b\\"
    assert desktop_escape("t", "b", "off") == ""


@pytest.mark.asyncio
@pytest.mark.parametrize(("bell", "desktop"), [(True, "osc777"), (False, "off")])
async def test_error_alerts_ring_and_send_the_escape_as_configured(tmp_path: Path, monkeypatch, bell, desktop):
    from tests.support.tui import make_app, wait_until

    monkeypatch.delenv("TMUX", raising=False)
    app = make_app(tmp_path)
    app.settings.notify.bell, app.settings.notify.desktop = bell, desktop
    rang: list[int] = []
    written: list[str] = []
    monkeypatch.setattr(app, "bell", lambda: rang.append(1))
    async with app.run_test(size=(160, 50)) as pilot:
        monkeypatch.setattr(app._driver, "write", written.append)
        # The fixture holds runs that ended badly within the day: their run_failed/run_oom alerts are errors.
        await wait_until(pilot, lambda: app.model.passes >= 2, what="the watcher")
        await wait_until(pilot, lambda: any(a.level == "error" for a in app.model.book.history), what="an alert")
        await pilot.pause(0.2)
    osc = [w for w in written if w.startswith("\x1b]777;notify;aba run_")]
    assert (len(rang) >= 1) == bell
    assert (len(osc) >= 1) == (desktop == "osc777")
    assert not [w for w in written if w.startswith("\x1b]9;")]
