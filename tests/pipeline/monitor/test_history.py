"""A big events file: drawn from its tail first, read no further before that; its history read behind it
in slices, and the series then the same as a full read's (pipeline.monitor.history, parse, series.ingest)."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import pipeline.monitor.entries as entries_mod
import pipeline.monitor.series as series_mod
import pipeline.runs.events as events_mod
from pipeline.monitor.parse import parse_events
from pipeline.monitor.runs_model import HISTORY_SLICE, RunsModel
from pipeline.monitor.series import RunSeries
from pipeline.runs.events import MAX_LINE_BYTES, parse_lines
from pipeline.runs.store import RunStore

RUN = "20260101-0000-dpo-big"


def state(rs: RunSeries) -> str:
    """Everything a RunSeries holds, comparable (NaN included, dict order included)."""
    out: dict[str, Any] = {k: v for k, v in vars(rs).items() if k != "series"}
    out["series"] = {k: (s.xs.tolist(), s.ys.tolist()) for k, s in rs.series.items()}
    return repr(out)


def test_parse_events_gives_what_parse_lines_gives_line_for_line() -> None:
    lines = [b'{"type": "metrics", "step": 1, "loss": 0.5}', b"", b"   ", b' {"a": 1} ', b'{"a": 1}\r',
             b'{"a": NaN, "b": Infinity}', b"\xef\xbb\xbf" + b'{"bom": 1}', '{"u": 1}'.encode("utf-16"),
             b"[1, 2]", b"7", b'"s"', b"null", b'{"a": 1} {"b": 2}', b'{"a": 1}x', b'{"a": ', b"not json",
             b'{"bad utf8": "\xff"}', b'{"lone": "\\ud800"}', b'{"esc": "\\u00e9\xc3\xa9"}', b"[" * 100_000,
             b'{"big": 123456789012345678901234567890}', b'{"dup": 1, "dup": 2}', b"\xed\xa0\x80",
             b'{"x": "' + b"y" * (MAX_LINE_BYTES + 1) + b'"}', b'{"a": [1, {"b": null}], "c": true}']
    got, bad = parse_events(lines)
    want, want_bad = parse_lines(lines)
    assert repr(got) == repr(want) and bad == want_bad
    assert bad > 5 and len(got) > 8  # the list exercises both sides
    # A block of clean lines is parsed in one call; one odd line among clean ones must change nothing
    # but that line (two values on a line, a "]", a blank, another encoding...).
    good = [b'{"type": "metrics", "step": 2, "loss": 0.25}', b'{"type": "metrics", "step": 3, "loss": 0.125}']
    more = [b'{"a": 1}, {"b": 2}', b'{"a": 1}]', b'], [{"a": 1}', b'{"a": 1},', b'', b' {"a": 1}']
    for odd in [*lines, *more]:
        block = [good[0], odd, good[1]]
        assert repr(parse_events(block)) == repr(parse_lines(block)), odd[:40]
    assert repr(parse_events(good)) == repr(parse_lines(good)) == repr(([json.loads(x) for x in good], 0))


def _random_events(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """Metrics runs of one shape broken by everything ingest must handle the same way event by event."""
    out: list[dict[str, Any]] = [{"ts": 0.0, "type": "progress", "step": 0, "total_steps": n, "phase": "train",
                                  "phases": ["train", "eval"]}]
    step = 0
    for i in range(n):
        step += rng.choice((1, 1, 1, 0, 2))
        r = rng.random()
        ev: dict[str, Any] = {"ts": 1.0 + i, "type": "metrics", "step": step, "loss": rng.random(),
                              "accuracy": rng.randint(0, 3), "eta_s": float(n - i), "note": "x"}
        if r < 0.02:
            step = max(0, step - rng.randint(1, 30))  # a resume from an earlier checkpoint
            ev["step"] = step
        elif r < 0.03:
            ev["loss"] = float("nan")
        elif r < 0.04:
            ev["accuracy"] = True  # a bool is not a number
        elif r < 0.05:
            del ev["ts"]
        elif r < 0.06:
            ev["step"] = float(step) + 0.5
        elif r < 0.07:
            del ev["step"]
        elif r < 0.08:
            ev = dict(reversed(list(ev.items())))  # same keys, another order
        elif r < 0.09:
            ev["grad_norm"] = 1.0  # a new metric
        elif r < 0.10:
            ev.pop("loss")
            ev["kl"] = 0.1  # same count of keys, not the same keys
        elif r < 0.11:
            ev["loss"] = "n/a"
        elif r < 0.12:
            ev = {"ts": 1.0 + i, "type": "progress", "step": step, "total_steps": n,
                  "phase": rng.choice(("train", "eval"))}
        elif r < 0.13:
            ev = {"ts": 1.0 + i, "type": "alert", "code": "nan_guard", "step": step}
        elif r < 0.14:
            ev = {"ts": 1.0 + i, "type": "checkpoint", "step": step, "name": f"checkpoint-{step}"}
        elif r < 0.15:
            ev["ts"] = "late"
        out.append(ev)
    return out


@pytest.mark.parametrize("counted_by", ["metrics", "progress"])
@pytest.mark.parametrize("monotonic", [True, False])
def test_ingest_of_a_batch_equals_event_by_event(counted_by: str, monotonic: bool) -> None:
    rng = random.Random(f"{counted_by}{monotonic}")
    events = _random_events(rng, 5000)
    one = RunSeries(monotonic=monotonic, counted_by=counted_by)
    for ev in events:
        one.ingest([ev])  # a list of one goes event by event
    batch = RunSeries(monotonic=monotonic, counted_by=counted_by)
    i = 0
    while i < len(events):  # slices of any size, as the tail and the history hand them over
        j = i + rng.randint(1, 700)
        batch.ingest(events[i:j])
        i = j
    assert state(batch) == state(one)
    assert one.nonfinite and one.alerts and one.checkpoints and len(one.series["loss"]) > 3000


def _write_run(runs: Path, n: int, rng: random.Random) -> Path:
    d = runs / RUN
    d.mkdir(parents=True)
    now = time.time()
    (d / "status.json").write_text(json.dumps({"run_id": RUN, "stage": "dpo", "state": "succeeded",
                                               "host": "elsewhere", "started_at": now - 3600, "ended_at": now,
                                               "attempt": 1, "updated_at": now}))
    events = _random_events(rng, n)
    events.insert(50, {"ts": 2.0, "type": "metrics", "step": 3, "grad_norm": float("nan")})  # deep in the history
    events.insert(60, {"ts": 2.0, "type": "alert", "code": "early", "message": "an early alert", "step": 4})
    text = "".join(json.dumps(e) + "\n" for e in events)
    lines = text.splitlines(keepends=True)
    lines.insert(100, "not json\n")  # a malformed line in the history, one in the tail
    lines.insert(len(lines) - 10, '{"torn": \n')
    (d / "events.jsonl").write_text("".join(lines))
    return d / "events.jsonl"


@contextmanager
def counting_reads() -> Iterator[list[int]]:
    """Counts the bytes read from every events file the model opens (all of its readers open through
    open_regular)."""
    got: list[int] = []
    real = events_mod.open_regular

    class Counted:
        def __init__(self, fh: Any) -> None:
            self._fh = fh

        def read(self, *a: Any) -> bytes:
            data = self._fh.read(*a)
            got.append(len(data))
            return data

        def readline(self, *a: Any) -> bytes:
            data = self._fh.readline(*a)
            got.append(len(data))
            return data

        def __getattr__(self, name: str) -> Any:
            return getattr(self._fh, name)

        def __enter__(self) -> Counted:
            return self

        def __exit__(self, *exc: object) -> None:
            self._fh.close()

    def wrapped(path: Any, *a: Any, **kw: Any) -> Counted:
        return Counted(real(path, *a, **kw))

    mods = (events_mod, series_mod, entries_mod)
    saved = [m.open_regular for m in mods]
    for m in mods:
        m.open_regular = wrapped  # type: ignore[assignment]
    try:
        yield got
    finally:
        for m, old in zip(mods, saved, strict=True):
            m.open_regular = old  # type: ignore[assignment]


def _full_read(runs: Path) -> RunsModel:
    model = RunsModel(RunStore(runs), full_history_bytes=1 << 40)
    model.want({RUN})
    model.poll_once()
    while model.backlog:  # the file read from the top in 8 MiB slices
        model.poll_once()
    return model


def test_a_big_file_is_drawn_from_its_tail_then_filled_to_a_full_read(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    path = _write_run(runs, 80_000, random.Random(7))
    size = path.stat().st_size
    assert size > 4 * HISTORY_SLICE
    model = RunsModel(RunStore(runs), tail_lines=1000, full_history_bytes=1 << 20)
    model.want({RUN})
    with counting_reads() as reads:
        model.poll_once()
    e = model.entry(RUN)
    assert e is not None and e.series.tail_only and e.history is not None
    # The first frame read the tail window (whole 1 MiB blocks from the end), the last lines again and the
    # head for the run's summary: nothing like the file.
    assert sum(reads) <= (1 << 20) * 2 + (64 << 10) and sum(reads) < size / 4
    assert e.history.reader.offset == 0  # the pass that opened it read no history
    drawn = e.series
    tail_points = e.series.series["loss"].xs.tolist()
    assert e.series.events <= 1000 and 0 < len(e.series.series["loss"]) < 1000  # its last tail_lines lines

    # Lines come in while the history is read: the drawn series takes them, the fill catches up with them.
    passes, shares = 0, []
    with open(path, "a") as fh:
        while e.history is not None:
            passes += 1
            assert passes < 4 * size / HISTORY_SLICE
            if passes % 3 == 0:
                s = int(drawn.step or 0) + 1
                fh.write(json.dumps({"ts": 9e9, "type": "metrics", "step": s, "loss": 0.25, "accuracy": 1}) + "\n")
                fh.flush()
            before = e.series
            model.poll_once()
            if e.history is not None:  # until the swap, the drawn series only grows at its end
                assert e.series is before is drawn and e.series.tail_only
                assert e.series.series["loss"].xs.tolist()[: len(tail_points)] == tail_points
                legend = model.legend(RUN)
                assert legend is not None and legend.tail_only and legend.history is not None
                shares.append(legend.history)
    assert shares == sorted(shares) and 0 < shares[0] < 0.5 < shares[-1] <= 1  # the legend says how far it got
    legend = model.legend(RUN)
    assert legend is not None and not legend.tail_only and legend.history is None
    assert passes >= size // HISTORY_SLICE
    assert e.series is not drawn and not e.series.tail_only
    full = _full_read(runs)
    fe = full.entry(RUN)
    assert fe is not None and fe.tail is not None and e.tail is not None
    assert state(e.series) == state(fe.series)
    assert e.tail.malformed == fe.tail.malformed == 2
    # The alerts of the history were raised, as a full read raises them (later, and each once).
    idents = sorted(model.book.active)
    assert idents == sorted(full.book.active)
    assert any("grad_norm" in i for i in idents) and any("early" in i for i in idents)
    # Done: a quiet pass reads nothing more.
    with counting_reads() as reads:
        model.poll_once()
    assert sum(reads) == 0 and not model.backlog


def test_a_file_replaced_while_its_history_is_read_drops_the_fill(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    path = _write_run(runs, 30_000, random.Random(3))
    model = RunsModel(RunStore(runs), tail_lines=500, full_history_bytes=1 << 20)
    model.want({RUN})
    model.poll_once()
    model.poll_once()
    e = model.entry(RUN)
    assert e is not None and e.history is not None and e.history.reader.offset > 0
    new = path.with_name("events.new")
    new.write_text("".join(json.dumps({"ts": 1.0, "type": "metrics", "step": s, "loss": 1 / s}) + "\n"
                           for s in range(1, 200)))
    os.replace(new, path)
    for _ in range(5):
        model.poll_once()
    assert e.history is None
    assert e.series.series["loss"].xs.tolist() == [float(s) for s in range(1, 200)]


def test_history_is_not_read_past_its_limit(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _write_run(runs, 20_000, random.Random(5))
    model = RunsModel(RunStore(runs), tail_lines=500, full_history_bytes=1 << 20, history_bytes=2 << 20)
    model.want({RUN})
    for _ in range(3):
        model.poll_once()
    e = model.entry(RUN)
    assert e is not None and e.series.tail_only and e.history is None and not model.backlog
