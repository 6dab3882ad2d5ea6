"""status.json is replaced atomically: a reader polling it never sees a partial file."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from pipeline.runs.status import Status, read_status_raw, write_status


def test_reader_never_sees_a_partial_status(tmp_path):
    write_status(tmp_path, Status(run_id="r", stage="selftest"))
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        from pipeline.runs.status import Status, write_status
        from pathlib import Path
        for i in range(3000):
            # A long reason makes each file span several write() calls.
            write_status(Path({str(tmp_path)!r}), Status(run_id="r", stage="selftest", attempt=i,
                         reason="x" * (i % 7000)))
    """)])
    reads = bad = 0
    seen = set()
    while writer.poll() is None or reads == 0:
        raw = (tmp_path / "status.json").read_text()
        reads += 1
        try:
            data = json.loads(raw)
            seen.add(data["attempt"])
        except ValueError:
            bad += 1
    assert writer.wait() == 0
    assert bad == 0
    assert reads > 100 and len(seen) > 10  # the reader really raced the writer
    assert read_status_raw(tmp_path).attempt == 2999
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_corrupt_status_is_reported_with_the_file_name(tmp_path):
    (tmp_path / "status.json").write_text('{"run_id": "r", "sta')
    try:
        read_status_raw(tmp_path)
    except ValueError as exc:
        assert "status.json" in str(exc) and "not valid JSON" in str(exc)
    else:
        raise AssertionError("a truncated status.json must not parse")
