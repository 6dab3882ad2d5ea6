"""Peak RAM, CPU and VRAM of a run, recorded by the supervisor in its events: a real process that
grows, the fake NVML at the edge for VRAM, and a real selftest run through the detached supervisor."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time

from pipeline.config.run import build_config
from pipeline.runs import launcher
from pipeline.runs.events import iter_events
from pipeline.runs.nvml import NvmlProvider
from pipeline.runs.peaks import PeakWatch
from pipeline.runs.status import TERMINAL
from pipeline.runs.store import RunStore
from pipeline.runs.vocabulary import EventType, ResourcesFields
from tests.support.fake_nvml import FakeGpu, FakeNvml, GiB

GROW = ("import time\nblocks = []\nfor _ in range(6):\n    blocks.append(bytearray(40 << 20))\n"
        "    time.sleep(0.15)\nwhile True:\n    sum(range(10**6))\n")


def test_peaks_of_a_growing_process_tree_with_its_vram(tmp_path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", GROW])
    nvml = FakeNvml([FakeGpu(total=80 * GiB, procs=[(proc.pid, 3 * GiB), (999999, 9 * GiB)])])
    written: list[ResourcesFields] = []
    watch = PeakWatch(written.append, poll_s=0.1, write_every_s=0.5, gpus=NvmlProvider(nvml))
    try:
        watch.begin(proc.pid, attempt=2)
        deadline = time.monotonic() + 20
        while watch.rss < 200 << 20 and time.monotonic() < deadline:
            time.sleep(0.05)
            watch.tick()
        for _ in range(8):  # CPU needs two readings, and a minute's worth of writes is 0.5 s here
            time.sleep(0.1)
            watch.tick()
    finally:
        proc.kill()
        proc.wait()
    watch.end()
    assert written and written[-1]["final"] is True and not written[0].get("final")
    last = written[-1]
    assert last["peak_rss_bytes"] >= 200 << 20 and last["peak_cpu_pct"] > 20  # a busy loop: most of a core
    assert last["peak_vram_bytes"] == 3 * GiB and last["vram_total_bytes"] == 80 * GiB and last["gpus"] == 1
    assert last["attempt"] == 2 and last["cpus"] >= 1 and last["ram_total_bytes"] > last["peak_rss_bytes"]
    assert all(a["peak_rss_bytes"] <= b["peak_rss_bytes"] for a, b in itertools.pairwise(written))


def test_without_nvml_there_is_no_vram_field_and_a_vanished_process_costs_nothing() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    written: list[ResourcesFields] = []
    watch = PeakWatch(written.append, poll_s=0.0, gpus=NvmlProvider(FakeNvml([], init_error=True)))
    watch.begin(proc.pid)
    watch.tick()
    proc.wait()
    watch.sample()  # gone: no exception, the peaks stay
    watch.end()
    assert len(written) == 1 and "peak_vram_bytes" not in written[0] and written[0]["peak_rss_bytes"] > 0


def test_a_supervised_run_records_its_peaks_in_its_events(store: RunStore) -> None:
    run_id, path = launcher.launch(store, build_config("selftest", sets=["selftest.steps=3"]))
    assert launcher.wait_for(store, run_id, set(TERMINAL) | {"lost"}, timeout=60) == "succeeded"
    res = [e for _o, e in iter_events(path / "events.jsonl") if e["type"] == EventType.RESOURCES]
    assert res and res[-1]["final"] is True and res[-1]["attempt"] == 1
    assert 10 << 20 < res[-1]["peak_rss_bytes"] < 4 << 30  # a python worker: tens of MB, not nothing
