"""events.jsonl: appends, incremental tails, truncation/replacement, malformed lines."""

from __future__ import annotations

import json
import os

from pipeline.runs.events import EventWriter, Tail, iter_events, read_last_lines
from pipeline.runs.vocabulary import EventType


def test_writer_appends_lines_with_ts_type_step(tmp_path):
    path = tmp_path / "events.jsonl"
    with EventWriter(path) as w:
        w.emit(EventType.METRICS, 1, loss=0.5, accuracy=1.0)
        w.emit(EventType.PROGRESS, 0, total_steps=10)
        w.emit(EventType.METRICS, 2, loss=float("nan"))
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [e["type"] for e in lines] == ["metrics", "progress", "metrics"]
    assert lines[0]["step"] == 1 and lines[0]["loss"] == 0.5 and lines[0]["ts"] > 0
    assert lines[2]["loss"] != lines[2]["loss"]  # NaN survives the round trip


def test_tail_reads_only_new_complete_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    tail = Tail(path)
    assert tail.poll() == []  # no file yet
    with open(path, "ab") as fh:
        fh.write(b'{"step": 1}\n{"step": 2')
    assert [e["step"] for e in tail.poll()] == [1]
    assert tail.poll() == []  # the partial line waits
    with open(path, "ab") as fh:
        fh.write(b'}\nnot json\n{"step": 3}\n')
    assert [e["step"] for e in tail.poll()] == [2, 3]
    assert tail.malformed == 1


def test_tail_detects_truncation_and_replacement(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"step": 1}\n{"step": 2}\n')
    tail = Tail(path)
    assert len(tail.poll()) == 2
    path.write_bytes(b'{"step": 9}\n')  # truncated in place, smaller
    assert [e["step"] for e in tail.poll()] == [9]
    assert tail.resets == 1
    tmp = tmp_path / "new"
    tmp.write_bytes(b'{"step": 1}\n{"step": 2}\n{"step": 3}\n')
    os.replace(tmp, path)  # replaced by a new file (new inode)
    assert [e["step"] for e in tail.poll()] == [1, 2, 3]
    assert tail.resets == 2


def test_iter_events_from_offset_skips_partial_and_malformed(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_bytes(b'{"step": 1}\n[1,2]\n{"step": 2}\n{"step": 3')
    got = list(iter_events(path))
    assert [e["step"] for _o, e in got] == [1, 2]
    offset = got[0][0]
    assert [e["step"] for _o, e in iter_events(path, offset)] == [2]


def test_read_last_lines_across_blocks(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"".join(b'{"step": %d}\n' % i for i in range(5000)) + b'{"step": 50')
    last = read_last_lines(path, 3, block=64)
    assert [json.loads(x)["step"] for x in last] == [4997, 4998, 4999]
