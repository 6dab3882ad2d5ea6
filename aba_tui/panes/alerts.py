"""Alerts raised this session, newest first: NaN/inf, loss collapse, stalls, a starved GPU, VRAM,
runs that ended failed/oom/lost, and the alerts workers wrote to their events."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message

from aba_tui.panes.measured_table import MeasuredTable
from pipeline.monitor.alerts import Alert


class AlertsTable(MeasuredTable):
    DEFAULT_CSS = """
    AlertsTable {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    """

    HELP = """\
## Alerts
What went wrong, newest first. Thresholds live in the [alerts] table of the config file
(stall minutes, low GPU utilisation and its window, VRAM share, loss collapse). `enter` shows the alert's run."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "goto_run", "Show run", id="alerts.goto",
                                                  tooltip="highlight the alert's run")]

    class GotoRun(Message):
        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", **kwargs)
        self._alerts: list[tuple[float, Alert]] = []

    def on_mount(self) -> None:
        self.add_column("TIME", key="time")
        self.add_column("", key="level")
        self.add_column("ALERT", key="message")

    def add_alerts(self, alerts: list[Alert], now: float) -> None:
        if not alerts:
            return
        self._alerts = [(now, a) for a in reversed(alerts)] + self._alerts
        self._alerts = self._alerts[:500]
        theme = self.app.current_theme
        self.clear()
        for i, (ts, a) in enumerate(self._alerts):
            color = (theme.error if a.level == "error" else theme.warning) or "red"
            self.add_row(time.strftime("%H:%M:%S", time.localtime(ts)),
                         Text("✗" if a.level == "error" else "⚠", style=f"bold {color}"),
                         Text(a.message, overflow="ellipsis", no_wrap=True), key=str(i))

    @property
    def alerts(self) -> list[Alert]:
        return [a for _t, a in self._alerts]

    def action_goto_run(self) -> None:
        if 0 <= self.cursor_row < len(self._alerts):
            run_id = self._alerts[self.cursor_row][1].run_id
            if run_id:
                self.post_message(self.GotoRun(run_id))
