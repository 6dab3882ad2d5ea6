"""GPU/VRAM telemetry: per GPU utilisation, memory, temperature, power, clocks, fan, the processes
on it (mapped to runs), and history sparklines; CPU and RAM per run process always, and alone when
there is no NVIDIA driver. The app samples in a worker thread; this pane only draws the snapshots
the screen hands it, with the ``Telemetry`` history and the low-disk mark it was built with."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widget import Widget

from pipeline.monitor import fmt
from pipeline.monitor.telemetry import GpuSample, HistoryPoint, Snapshot, Telemetry, spark_values


class TelemetryPane(Widget):
    DEFAULT_CSS = """
    TelemetryPane {
        height: 1fr;
        padding: 0 1;
        overflow-y: auto;
    }
    """

    can_focus = True
    HELP = """\
## Telemetry
Sampled in the background (telemetry.interval_s, 1 s by default) through NVML: per GPU utilisation, VRAM,
temperature, power, SM/memory clocks and fan, with sparklines over the last telemetry.history_minutes
(30 by default). GPU processes are mapped to runs by the pids in each run's status.json.
Without an NVIDIA driver the pane says so and shows CPU and RAM per run process (psutil).
The runs dir's free space is the last line (yellow below alerts.disk_low_mb, red when full or read-only).
A field NVML cannot read shows n/a. `h` switches the sparklines between utilisation and VRAM."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("h", "toggle_history", "History", id="telemetry.history",
                                                  tooltip="sparklines: utilisation or VRAM")]

    def __init__(self, telemetry: Telemetry, history_s: float, disk_low_bytes: float = 2.0**30,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._content: RenderableType = "sampling…"
        self.telemetry = telemetry
        self.history_s = history_s
        self.disk_low_bytes = disk_low_bytes  # free space under this shows in the warning colour
        self.show_vram = False

    def action_toggle_history(self) -> None:
        self.show_vram = not self.show_vram
        if self.telemetry.latest is not None:
            self.show_snapshot(self.telemetry.latest)

    def show_snapshot(self, snap: Snapshot) -> None:
        # A plain repaint: the pane's size does not depend on its content (Static.update would
        # re-layout the whole screen every second).
        self._content = self._render_snapshot(snap)
        self.refresh()

    def render(self) -> RenderableType:
        return self._content

    def on_resize(self) -> None:
        # The sparklines are drawn to the pane's width: a new size redraws them now, not at the next sample
        # (a pane built just after the first frame is sized only after its first sample is shown).
        if self.telemetry.latest is not None:
            self.show_snapshot(self.telemetry.latest)

    def _gpu_line(self, g: GpuSample, snap: Snapshot, width: int) -> Text:
        theme = self.app.current_theme
        mem_pct = g.mem_pct
        line = Text(f"GPU{g.index} {fmt.na(g.util_pct, '{:>3.0f}', '%')} ", style="bold")
        line.append(self._spark(self.telemetry.gpu_history(g.index), 1, max(5, width), snap.ts),
                    style=theme.primary or "")
        line.append(f" {fmt.gib(g.mem_used)}/{fmt.gib(g.mem_total)}G {fmt.na(mem_pct, '{:.0f}', '%')}",
                    style=(theme.error or "red") if mem_pct is not None and mem_pct > 95 else "")
        line.append(f" {fmt.na(g.temp_c, '{:.0f}', '°C')} {fmt.na(g.power_w)}W")
        runs = sorted({p.run_id for p in g.processes if p.run_id})
        if runs:
            line.append(f" {', '.join(runs)}", style="dim")
        return line

    def _disk_line(self, snap: Snapshot, warn: str, err: str) -> Text:
        free = snap.disk_free or 0
        style = err if snap.disk_readonly or free < 2**20 else warn if free < self.disk_low_bytes else ""
        line = Text(f"Disk {fmt.size(free)} free of {fmt.size(snap.disk_total)} on {snap.disk_path} (runs dir)",
                    style=style or "bold")
        if snap.disk_readonly:
            line.append("  read-only", style=err)
        return line

    def _spark(self, history: Iterable[HistoryPoint], which: int, width: int, now: float,
               hi: float | None = 100.0) -> str:
        return fmt.sparkline(spark_values(history, which, width, now, self.history_s), 0.0, hi)

    def _render_snapshot(self, snap: Snapshot) -> Text:
        # One Text of lines, not a rich Table: the pane repaints every second and a table measures
        # every cell each time (a fifth of the dashboard's idle render cost).
        theme = self.app.current_theme
        warn, err, dim = theme.warning or "yellow", theme.error or "red", "dim"
        width = max(10, self.size.width - 24)
        span = fmt.duration(self.history_s).replace("m00s", "m")
        rows: list[Text] = []
        if snap.gpu_error:
            rows.append(Text(f"No NVIDIA GPU: {snap.gpu_error}", style=warn))
        # Several GPUs in a short pane: one line each (utilisation sparkline, VRAM, temperature, power).
        per_gpu = 4 + (1 if any(g.processes for g in snap.gpus) else 0)
        compact = len(snap.gpus) > 1 and len(snap.gpus) * per_gpu + 6 > self.size.height
        for g in snap.gpus:
            if compact:
                rows.append(self._gpu_line(g, snap, width - 28))
                continue
            head = Text(f"GPU{g.index} ", style="bold")
            head.append(g.name or "n/a")
            if snap.driver:
                head.append(f"  driver {snap.driver}", style=dim)
            rows.append(head)
            hist = self.telemetry.gpu_history(g.index)
            util = Text(f" util {fmt.na(g.util_pct, '{:>3.0f}', '%')} ")
            util.append(self._spark(hist, 1, width, snap.ts), style=theme.primary or "")
            util.append(f" {span}", style=dim)
            rows.append(util)
            mem_pct = g.mem_pct
            mem_style = err if mem_pct is not None and mem_pct > 95 else ""
            mem = Text(f" vram {fmt.gib(g.mem_used)}/{fmt.gib(g.mem_total)} GiB {fmt.na(mem_pct, '{:.0f}', '%')} ",
                       style=mem_style)
            if self.show_vram:
                mem.append(self._spark(hist, 2, width, snap.ts), style=theme.accent or "")
            rows.append(mem)
            power = (f"{fmt.na(g.power_w)}/{fmt.na(g.power_limit_w)} W" if g.power_limit_w is not None
                     else f"{fmt.na(g.power_w)} W")
            rows.append(Text(f" {fmt.na(g.temp_c, '{:.0f}', '°C')}  {power}  SM {fmt.na(g.sm_clock_mhz)} MHz  "
                             f"mem {fmt.na(g.mem_clock_mhz)} MHz  fan {fmt.na(g.fan_pct, '{:.0f}', '%')}"))
            for p in g.processes:
                who = p.run_id or "(not a run)"
                rows.append(Text(f"  pid {p.pid:<7} {fmt.gib(p.used_bytes):>5} GiB  {who}",
                                 style="" if p.run_id else dim))
        cpu = Text(f"CPU {fmt.na(snap.cpu_pct, '{:>3.0f}', '%')} of {snap.cpu_count} ", style="bold")
        cpu.append(self._spark(self.telemetry.cpu_history(), 1, width, snap.ts), style=theme.primary or "")
        rows.append(cpu)
        rows.append(Text(f"RAM {fmt.gib(snap.ram_used)}/{fmt.gib(snap.ram_total)} GiB", style="bold"))
        if snap.disk_free is not None:
            rows.append(self._disk_line(snap, warn, err))
        if snap.procs:
            rows.extend(self._proc_lines(snap, dim))
        elif not snap.gpus:
            rows.append(Text("no run process is alive", style=dim))
        return Text("\n", no_wrap=True, overflow="ellipsis").join(rows)  # join keeps the separator's settings

    def _proc_lines(self, snap: Snapshot, dim: str) -> list[Text]:
        """The run processes as aligned columns: run (ellipsised to fit), pid, cpu%, rss."""
        cells = [(ps.run_id + ("" if ps.role == "worker" else " (supervisor)") + (f" +{ps.children}" if ps.children
                  else ""), str(ps.pid), fmt.na(ps.cpu_pct), fmt.size(ps.rss_bytes)) for ps in snap.procs]
        head = ("run", "pid", "cpu%", "rss")
        widths = [max(len(r[i]) for r in [head, *cells]) for i in range(1, 4)]
        room = max(8, self.size.width - sum(widths) - 5)
        run_w = min(room, max(len(r[0]) for r in [head, *cells]))

        def line(r: tuple[str, str, str, str]) -> str:
            run = r[0] if len(r[0]) <= run_w else r[0][:run_w - 1] + "…"
            return f"{run:<{run_w}} " + " ".join(f"{v:>{w}}" for v, w in zip(r[1:], widths, strict=True))

        return [Text(line(head), style=dim), *(Text(line(c)) for c in cells)]
