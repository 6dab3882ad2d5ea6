"""benchmarks/bench_chat.py's load-robust figure: decode speed net of the decoding thread's run-queue waits."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.bench_chat import net_tps, schedstat  # noqa: E402


@pytest.mark.skipif(not Path("/proc/thread-self/schedstat").exists(), reason="Linux schedstat")
def test_schedstat_reads_a_threads_own_cpu_time_and_nothing_for_a_gone_thread() -> None:
    pid, tid = os.getpid(), threading.get_native_id()
    before = schedstat(pid, tid)
    t0 = time.thread_time()
    while time.thread_time() - t0 < 0.05:  # 50 ms of this thread's CPU, however busy the machine is
        pass
    after = schedstat(pid, tid)
    assert before is not None and after is not None
    assert 0.045 <= after[0] - before[0] < 1.0 and after[1] >= before[1] >= 0
    assert schedstat(pid, 2**22 + 7) is None  # above pid_max's ceiling: no such thread


def test_net_speed_takes_the_run_queue_waits_out_of_the_span() -> None:
    # 129 tokens over 5 s of which the thread waited 1 s for a core: 128 tokens in 4 s of its own
    assert net_tps(129, (10.0, (2.0, 1.0)), (15.0, (6.0, 2.0))) == pytest.approx(32.0)
    assert net_tps(129, (10.0, (2.0, 1.0)), (15.0, (6.0, 1.0))) == pytest.approx(128 / 5)  # no wait: the wall
    assert net_tps(129, (10.0, None), (15.0, (6.0, 2.0))) is None  # no schedstat (not Linux)
    assert net_tps(1, (10.0, (2.0, 1.0)), (10.0, (2.0, 1.0))) is None  # one token has no decode span
