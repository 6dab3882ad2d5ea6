"""pipeline.monitor.telemetry against a fake pynvml (the edge) and the real psutil/NVML of this machine."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from pipeline.monitor.telemetry import NvmlProvider, ProcessMap, RunPids, Telemetry, spark_values
from tests.support.fake_nvml import FakeGpu, FakeNvml, GiB


def test_nvml_provider_reads_every_field():
    nv = FakeNvml([FakeGpu(procs=[(4242, 3 * GiB)]), FakeGpu(name="NVIDIA A10", util=3)])
    p = NvmlProvider(nv)
    assert p.start() is None and p.driver() == "550.54.15"
    g0, g1 = p.sample()
    assert g0.name == "NVIDIA H100 80GB HBM3" and g0.util_pct == 87 and g0.mem_total == 80 * GiB
    assert g0.power_w == 310.0 and g0.power_limit_w == 700.0 and g0.sm_clock_mhz == 1755
    assert g0.temp_c == 64 and g0.fan_pct == 40 and round(g0.mem_pct) == 76
    assert [(q.pid, q.used_bytes) for q in g0.processes] == [(4242, 3 * GiB)]
    assert g1.name == "NVIDIA A10" and g1.util_pct == 3 and g1.uuid == "GPU-00000001"


def test_one_failing_field_reads_na_and_the_rest_survive():
    nv = FakeNvml(fail={"nvmlDeviceGetFanSpeed", "nvmlDeviceGetPowerUsage", "nvmlDeviceGetComputeRunningProcesses"})
    p = NvmlProvider(nv)
    assert p.start() is None
    (g,) = p.sample()
    assert g.fan_pct is None and g.power_w is None and g.processes == []
    assert g.util_pct == 87 and g.temp_c == 64


def test_no_driver_is_a_reason_not_a_crash():
    p = NvmlProvider(FakeNvml(init_error="NVML Shared Library Not Found"))
    reason = p.start()
    assert reason is not None and "NVML Shared Library Not Found" in reason
    assert p.sample() == []
    assert NvmlProvider(FakeNvml(gpus=[])).start() == "NVML found no NVIDIA GPU"


def test_real_nvml_on_this_machine_degrades_to_cpu_view():
    t = Telemetry(NvmlProvider(), interval_s=1.0)
    snap = t.sample([RunPids("me", os.getpid(), None)])
    if snap.gpu_error is None:  # a machine with an NVIDIA driver
        assert snap.gpus
    else:
        assert snap.gpus == [] and "NVML" in snap.gpu_error
    assert snap.ram_total and snap.ram_used and snap.cpu_count >= 1
    (me,) = snap.procs
    assert me.run_id == "me" and me.rss_bytes > 10 * 2**20


def test_process_map_follows_worker_group_and_children():
    # A worker in its own session with a child, like the supervisor starts it.
    worker = subprocess.Popen([sys.executable, "-c",
                               "import subprocess,sys,time; subprocess.Popen([sys.executable,'-c','import time; "
                               "time.sleep(30)']); time.sleep(30)"], start_new_session=True)
    try:
        deadline = time.time() + 10
        import psutil

        kids: list = []
        while time.time() < deadline and not kids:
            kids = psutil.Process(worker.pid).children()
            time.sleep(0.05)
        assert kids
        pm = ProcessMap([RunPids("run-a", worker.pid, None), RunPids("run-b", 999_999_99, None)])
        assert pm.run_of(worker.pid) == "run-a"
        assert pm.run_of(kids[0].pid) == "run-a"  # same process group
        assert pm.run_of(os.getpid()) is None
        t = Telemetry(NvmlProvider(FakeNvml([FakeGpu(procs=[(kids[0].pid, GiB)])])))
        snap = t.sample([RunPids("run-a", worker.pid, None)])
        assert snap.gpus[0].processes[0].run_id == "run-a"
        (ps,) = snap.procs
        assert ps.children == 1 and ps.rss_bytes > 0
    finally:
        os.killpg(worker.pid, 9)
        worker.wait()


def test_a_workers_children_are_looked_up_again_only_after_children_s():
    # Each lookup reads every process's parent; with ten local runs sampled each second that cost more than
    # the rest of the sample, so a worker's descendants are remembered for children_s.
    import psutil

    worker = subprocess.Popen([sys.executable, "-c", "import subprocess,sys,time; sys.stdin.readline(); "
                               "subprocess.Popen([sys.executable,'-c','import time; time.sleep(30)']); time.sleep(30)"],
                              stdin=subprocess.PIPE, start_new_session=True)
    try:
        t = Telemetry(NvmlProvider(FakeNvml(gpus=[])), children_s=3600)
        runs = [RunPids("run-a", worker.pid, None)]
        assert t.sample(runs).procs[0].children == 0
        assert worker.stdin is not None
        worker.stdin.write(b"spawn\n")
        worker.stdin.flush()
        deadline = time.time() + 10
        while time.time() < deadline and not psutil.Process(worker.pid).children():
            time.sleep(0.05)
        assert psutil.Process(worker.pid).children()
        assert t.sample(runs).procs[0].children == 0  # remembered: no lookup this sample
        t.children_s = 0.0
        (ps,) = t.sample(runs).procs
        assert ps.children == 1 and ps.rss_bytes > 0
    finally:
        os.killpg(worker.pid, 9)
        worker.wait()


def test_every_workers_children_come_from_one_read_of_the_process_table(monkeypatch):
    # Ten local runs each reading /proc/*/stat for their worker cost more than the rest of the sample:
    # one read serves every worker, grandchildren included, until children_s has passed.
    from pipeline.monitor import telemetry as tel

    reads = []
    real = tel.parents

    def counted():
        reads.append(1)
        return real()

    monkeypatch.setattr(tel, "parents", counted)
    code = ("import subprocess,sys,time; subprocess.Popen([sys.executable,'-c',"
            "\"import subprocess,sys,time; subprocess.Popen(['sleep','30']); time.sleep(30)\"]); time.sleep(30)")
    workers = [subprocess.Popen([sys.executable, "-c", code], start_new_session=True) for _ in range(2)]
    try:
        import psutil

        deadline = time.time() + 10
        while time.time() < deadline and not all(
                len(psutil.Process(w.pid).children(recursive=True)) == 2 for w in workers):
            time.sleep(0.05)
        t = Telemetry(NvmlProvider(FakeNvml(gpus=[])), children_s=3600)
        runs = [RunPids(f"run-{i}", w.pid, None) for i, w in enumerate(workers)]
        assert [p.children for p in t.sample(runs).procs] == [2, 2] and len(reads) == 1
        assert [p.children for p in t.sample(runs).procs] == [2, 2] and len(reads) == 1
    finally:
        for w in workers:
            os.killpg(w.pid, 9)
            w.wait()


def test_history_ttl_and_sparkline_buckets():
    clock = [1000.0]
    nv = FakeNvml()
    t = Telemetry(NvmlProvider(nv), history_s=1800, interval_s=1.0, ttl=0.5, clock=lambda: clock[0])
    assert t.history_len >= 1800
    for i in range(2000):
        clock[0] = 1000.0 + i
        nv.gpus[0].util = i % 100
        t.sample()
    assert len(t.gpu_history(0)) == t.history_len  # bounded
    calls = nv.calls
    snap = t.snapshot()
    assert snap is t.latest and nv.calls == calls  # cached within the TTL
    clock[0] += 1
    assert t.snapshot() is not snap and nv.calls > calls
    vals = spark_values(t.gpu_history(0), 1, 60, clock[0], 1800)
    assert len(vals) == 60 and max(vals) == 99  # 30 s buckets keep the peak
    young = spark_values([(clock[0] - 5, 50.0, 1.0)], 1, 60, clock[0], 1800)
    assert young == [50.0]
