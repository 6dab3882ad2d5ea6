"""The battery dialog of the A/B chat: runs a prompt battery through both sides into a live table,
then saves the rows and a summary in the chat folder (pipeline.chat.battery does the work)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from pipeline.chat.battery import Battery, BatteryResult, BatteryRow, SideResult, run_battery
from pipeline.chat.client import Endpoint, Sampling


def _verdict(res: SideResult) -> Text:
    if res.error:
        return Text("error", style="bold red")
    if res.passed:
        return Text("pass", style="green")
    return Text("FAIL: " + "; ".join(res.failures)[:40], style="red")


class BatteryScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    BatteryScreen { align: center middle; }
    BatteryScreen > Vertical { width: 95%; height: 90%; border: thick $primary; background: $panel; padding: 0 1; }
    BatteryScreen DataTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Stop / close", id="battery.close")]

    def __init__(self, battery: Battery, endpoints: dict[str, Endpoint], sampling: Sampling, save_dir: Path) -> None:
        super().__init__()
        self.battery, self.endpoints, self.sampling, self.save_dir = battery, endpoints, sampling, save_dir
        self.stop = threading.Event()
        self.result: BatteryResult | None = None
        self.saved: Path | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Battery {self.battery.name}: {len(self.battery.items)} prompts", classes="dialog-title")
            yield DataTable(id="battery-table", zebra_stripes=True, cursor_type="row")
            yield Label("running…", id="battery-summary")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("id", key="id")
        table.add_column("prompt", key="prompt")
        for side, ep in self.endpoints.items():
            table.add_column(f"{side.upper()} {ep.label}"[:30], key=f"v-{side}")
            table.add_column(f"{side.upper()} tok/s", key=f"t-{side}")
        for side in self.endpoints:
            table.add_column(f"{side.upper()} answer", key=f"a-{side}")
        self.run_worker(self._run, thread=True, exclusive=True, group="battery", exit_on_error=False)

    def _run(self) -> None:
        def on_row(row: BatteryRow) -> None:
            self.app.call_from_thread(self._add, row)

        result = run_battery(self.battery, self.endpoints, self.sampling, on_row=on_row, stop=self.stop)
        saved = result.save(self.save_dir)
        self.app.call_from_thread(self._done, result, saved)

    def _add(self, row: BatteryRow) -> None:
        cells: list[object] = [row.item.id, row.item.prompt[:40]]
        for side in self.endpoints:
            res = row.sides[side]
            tps = res.stats.get("tokens_per_s")
            cells += [_verdict(res), f"{tps:.1f}" if tps else "-"]
        for side in self.endpoints:
            res = row.sides[side]
            cells.append((res.error or res.answer).replace("\n", " ")[:60])
        self.query_one(DataTable).add_row(*cells, key=row.item.id)
        self.query_one("#battery-summary", Label).update(f"{len(self.query_one(DataTable).rows)}/"
                                                         f"{len(self.battery.items)} prompts · escape stops")

    def _done(self, result: BatteryResult, saved: Path) -> None:
        self.result, self.saved = result, saved
        parts = []
        for side, s in result.summary().items():
            tps = f", {s['mean_tokens_per_s']:.1f} tok/s" if s["mean_tokens_per_s"] else ""
            parts.append(f"{side.upper()} {s['label']}: {s['passed']}/{s['total']} passed{tps}")
        stopped = " (stopped)" if result.stopped else ""
        self.query_one("#battery-summary", Label).update(" · ".join(parts) + f"{stopped} · saved {saved}")

    def action_close(self) -> None:
        if self.result is None and not self.stop.is_set():
            self.stop.set()  # finishes the prompt in flight, then saves what it has
            self.query_one("#battery-summary", Label).update("stopping after the current prompt…")
            return
        self.dismiss(None)
