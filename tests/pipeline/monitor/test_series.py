"""pipeline.monitor.series: storage, resume purge, EMA, min/max downsampling and tail windows."""

from __future__ import annotations

import json
import math
from pathlib import Path

from pipeline.monitor.series import (
    RunSeries,
    Series,
    downsample_minmax,
    ema_list,
    open_events,
    plot_points,
    tail_window,
)


def test_downsample_keeps_spikes_and_bounds_the_point_count():
    n = 100_000
    xs = list(range(n))
    ys = [1.0] * n
    ys[31_337] = 50.0  # one spike in a hundred thousand
    ys[77_000] = -3.0
    ox, oy = downsample_minmax(xs, ys, 200)
    assert len(ox) <= 400
    assert max(oy) == 50.0 and min(oy) == -3.0
    assert 31_337 in ox and 77_000 in ox
    assert ox == sorted(ox)  # points stay in x order, so lines do not zig-zag back


def test_downsample_short_series_is_returned_whole():
    ox, oy = downsample_minmax([1, 2, 3], [3.0, 2.0, 1.0], 100)
    assert (ox, oy) == ([1, 2, 3], [3.0, 2.0, 1.0])
    assert downsample_minmax([], [], 10) == ([], [])


def test_ema_incremental_equals_batch_and_changes_with_weight():
    s = Series()
    vals = [float(v % 7) for v in range(50)]
    for i, v in enumerate(vals[:30]):
        s.append(i, v)
    first = list(s.ema(0.6))
    for i, v in enumerate(vals[30:], start=30):
        s.append(i, v)
    got = list(s.ema(0.6))
    assert got[:30] == first
    want = ema_list(vals, 0.6)
    assert all(math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-5) for a, b in zip(got, want, strict=True))
    assert list(s.ema(0.0)) == [float(v) for v in vals]  # weight 0: the raw values


def test_resume_purges_points_past_the_restart_step():
    s = Series()
    for step in range(1, 11):
        s.append(step, float(step))
    s.ema(0.5)
    s.append(6, 100.0)  # resumed from the step-5 checkpoint
    assert list(s.xs) == [1, 2, 3, 4, 5, 6]
    assert s.ys[-1] == 100.0
    assert len(s.ema(0.5)) == 6
    free = Series(monotonic=False)
    free.append(5, 1.0)
    free.append(1, 2.0)
    assert list(free.xs) == [5, 1]


def test_run_series_ingest_counts_nonfinite_and_progress():
    rs = RunSeries()
    changed = rs.ingest([
        {"type": "progress", "step": 0, "total_steps": 10, "ts": 100.0},
        {"type": "metrics", "step": 1, "loss": 2.0, "lr": 1e-5, "ts": 101.0, "pid": 7},
        {"type": "metrics", "step": 2, "loss": float("nan"), "grad_norm": float("inf"), "ts": 102.0},
        {"type": "metrics", "step": 3, "loss": 1.0, "eval_loss": 1.5, "ts": 103.0},
        {"type": "alert", "code": "nan_loss", "message": "x"},
        {"type": "checkpoint", "step": 3, "name": "checkpoint-0003"},
    ])
    assert changed == {"loss", "lr", "eval_loss"}
    assert "pid" not in rs.series
    assert list(rs.series["loss"].ys) == [2.0, 1.0]
    bad = rs.take_nonfinite()
    assert [(b.metric, b.step) for b in bad] == [("loss", 2), ("grad_norm", 2)]
    assert rs.take_nonfinite() == []
    assert rs.total_steps == 10 and rs.step == 3
    assert rs.alerts[0]["code"] == "nan_loss" and rs.checkpoints == ["checkpoint-0003"]
    # 2 steps in 2 s, 7 left
    assert rs.eta() == 7.0


def test_plot_points_window_and_smoothing():
    s = Series()
    for i in range(10_000):
        s.append(i, float(i % 100))
    pd = plot_points(s, 50, smoothing=0.9, last_steps=999)
    assert pd.total_points == 1000
    assert min(pd.raw_x) >= 9000 - 1
    assert len(pd.raw_x) <= 100 and pd.smooth_x[-1] == 9999
    assert len(pd.smooth_x) <= 101
    # The smoothed line is flatter than the raw one.
    assert max(pd.smooth_y) - min(pd.smooth_y) < max(pd.raw_y) - min(pd.raw_y)


def test_tail_window_leaves_partial_line_to_the_tail(tmp_path: Path):
    p = tmp_path / "events.jsonl"
    lines = [json.dumps({"type": "metrics", "step": i, "loss": 1.0 / i}) for i in range(1, 5001)]
    p.write_bytes(("\n".join(lines) + "\n").encode() + b'{"type": "metrics", "st')
    got, offset, _ino = tail_window(p, 100, block=4096)
    assert len(got) == 100 and json.loads(got[-1])["step"] == 5000 and json.loads(got[0])["step"] == 4901
    tail, events, tail_only, head = open_events(p, 100, full_limit_bytes=1000)
    assert tail_only and len(events) == 100 and tail.offset == offset
    assert p.read_bytes()[head:].startswith(got[0] + b"\n") and p.read_bytes()[head - 1:head] == b"\n"
    with open(p, "ab") as fh:
        fh.write(b'ep": 5001, "loss": 0.5}\n')
    new = tail.poll()
    assert [e["step"] for e in new] == [5001]


def test_open_events_small_file_starts_from_the_top(tmp_path: Path):
    p = tmp_path / "events.jsonl"
    p.write_text('{"type": "metrics", "step": 1, "loss": 1}\nnot json\n')
    tail, events, tail_only, head = open_events(p, 100, full_limit_bytes=1 << 20)
    assert not tail_only and events == [] and head == 0
    assert [e["step"] for e in tail.poll()] == [1] and tail.malformed == 1
