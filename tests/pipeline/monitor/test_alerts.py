"""pipeline.monitor.alerts: each rule on plain values, and the book that notifies once per condition."""

from __future__ import annotations

from pipeline.monitor import alerts as A


def test_nonfinite_fires_on_nan_and_inf_only():
    assert A.nonfinite("r1", "loss", 12, float("nan")).level == "error"
    a = A.nonfinite("r1", "grad_norm", 3, float("-inf"))
    assert "grad_norm is -inf at step 3" in a.message
    assert A.nonfinite("r1", "loss", 1, 0.5) is None
    assert A.nonfinite("r1", "loss", 1, 1) is None


def test_loss_collapse_absolute_and_relative():
    assert A.loss_collapse("r", [0.7, 0.5, 0.3], window=5) is None  # too few points
    assert A.loss_collapse("r", [0.7] * 5 + [5e-5] * 5, abs_threshold=1e-4, window=5).code == "loss_collapse"
    # A 100× drop from the start, though not below the absolute floor.
    drop = [2.0] * 5 + [0.5] * 10 + [0.01] * 5
    alert = A.loss_collapse("r", drop, abs_threshold=1e-4, ratio=0.01, window=5)
    assert alert is not None and "fell from 2 to 0.01" in alert.message
    # One low point among normal ones is not a collapse.
    assert A.loss_collapse("r", [2.0] * 9 + [1e-6], window=5) is None
    assert A.loss_collapse("r", drop, ratio=0.0) is None


def test_stalled_only_for_running_runs():
    assert A.stalled("r", "running", 1000.0, 1000.0 + 11 * 60, 10).code == "stalled"
    assert A.stalled("r", "running", 1000.0, 1000.0 + 9 * 60, 10) is None
    assert A.stalled("r", "succeeded", 1000.0, 1e9, 10) is None
    assert A.stalled("r", "running", None, 1e9, 10) is None


def test_gpu_starved_needs_a_covered_window_and_a_running_run():
    now = 1000.0
    low = [(now - 120 + i, 5.0) for i in range(121)]
    assert A.gpu_starved(0, low, now, 120, 20, ["run-a"]).key == "gpu_starved:0"
    assert A.gpu_starved(0, low, now, 120, 20, []) is None
    assert A.gpu_starved(0, low[-30:], now, 120, 20, ["run-a"]) is None  # 30 s of a 120 s window
    busy = [(t, 90.0) for t, _ in low]
    assert A.gpu_starved(0, busy, now, 120, 20, ["run-a"]) is None
    gaps = [(t, None) for t, _ in low]  # NVML could not read utilisation: no verdict
    assert A.gpu_starved(0, gaps, now, 120, 20, ["run-a"]) is None


def test_vram_and_run_end():
    assert A.vram_high(0, 79 * 2**30, 80 * 2**30, 95).code == "vram_high"
    assert A.vram_high(0, 70 * 2**30, 80 * 2**30, 95) is None
    assert A.vram_high(0, None, 80 * 2**30, 95) is None
    assert A.run_ended("r", "oom", "CUDA out of memory").code == "run_oom"
    assert A.run_ended("r", "lost", None).message == "r: lost"
    assert A.run_ended("r", "succeeded", None) is None
    assert A.run_ended("r", "stopped", "on request") is None


def test_book_latches_once_and_conditions_can_refire():
    book = A.AlertBook()
    nan = A.nonfinite("r", "loss", 2, float("nan"))
    assert book.latch(nan) is True
    assert book.latch(A.nonfinite("r", "loss", 9, float("nan"))) is False  # same metric, same run
    assert book.latch(None) is False
    stall = A.stalled("r", "running", 0.0, 3600.0, 10)
    assert book.sync("runs", [stall]) == [stall]
    assert book.sync("runs", [stall]) == []  # still stalled: no second notification
    assert book.worst_level("r") == "error"
    assert book.sync("runs", []) == []  # cleared
    assert all(a.code != "stalled" for a in book.active.values())
    assert book.sync("runs", [stall]) == [stall]  # stalled again later: notify again
    assert book.worst_level("other") is None
    assert [a.code for a in book.history] == ["nonfinite", "stalled", "stalled"]


def test_worker_alert_keeps_level_and_step():
    a = A.worker_alert("r", {"type": "alert", "code": "nan_guard", "level": "warning", "message": "NaN", "step": 4,
                             "ts": 1.0})
    assert a.level == "warning" and a.message == "r: NaN (step 4)" and a.code == "nan_guard"
