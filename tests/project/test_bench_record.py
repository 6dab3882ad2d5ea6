"""benchmarks/record.py: one results format, budgets judged the way they read, docs regenerated from files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.record import BEGIN, END, Check, Record, read_all, refresh_docs  # noqa: E402


def test_budgets_read_as_written() -> None:
    assert Check("frame", 375, 250, "ms", "minimal", budget_ratio=1.5).met is True  # ≤ is inclusive
    assert Check("frame", 376, 250, "ms", "minimal", budget_ratio=1.5).met is False
    assert Check("tok/s", 95, 100, "tok/s", "alone", budget_ratio=0.95, higher_is_better=True).met is True
    assert Check("tok/s", 94, 100, "tok/s", "alone", budget_ratio=0.95, higher_is_better=True).met is False
    assert Check("idle", 3.0, 0.1, "%", "minimal", budget_value=3.0).met is False  # < is strict
    assert Check("idle", 2.99, None, "%", "—", budget_value=3.0).ratio is None
    assert Check("p95", 1.0, 2.0, "ms", "poll").met is None


def test_a_results_file_carries_what_a_reader_needs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec = Record("trial", "A trial", reps=3, seeds=[1, 2], argv=[str(REPO / "benchmarks" / "bench_x.py"), "--n", "3"])
    path = rec.finish([Check("first frame", 300.0, 250.0, "ms", "minimal app", budget_ratio=1.5)],
                      figures={"runs": [1, 2, 3]}, notes=["a note"], out_dir=tmp_path)
    d = json.loads(path.read_text())
    assert d["command"] == "python benchmarks/bench_x.py --n 3" and d["reps"] == 3 and d["seeds"] == [1, 2]
    m = d["machine"]
    assert m["cpus"] and m["allowed_cores"] >= 1 and m["measured_at"].endswith("UTC")
    assert {"1m", "5m", "15m", "end_1m", "max_1m"} <= set(m["load_average"])
    assert d["checks"][0]["ratio"] == pytest.approx(1.2) and d["checks"][0]["met"] is True
    md = path.with_suffix(".md").read_text()
    assert md.startswith("# A trial") and "| first frame | 300 ms | 250 ms (minimal app) | 1.2× |" in md
    assert "a note" in md and "load average" in md
    assert md in capsys.readouterr().out


def test_the_docs_table_is_generated_from_the_files(tmp_path: Path) -> None:
    res = tmp_path / "results"
    Record("a", "Alpha").finish([Check("x", 1.0, 2.0, "s", "base", budget_ratio=1.0)], out_dir=res)
    (res / "other.json").write_text(json.dumps({"machine": {"load_average": {"1m": 0.5}, "measured_at": "then"}}))
    (res / "other.md").write_text("# Another script's own format\n")
    (res / "third.json").write_text(json.dumps({"load": [7.5, 10.8], "machine": "2 cores, shared"}))
    doc = tmp_path / "doc.md"
    doc.write_text(f"intro\n{BEGIN}\nstale\n{END}\noutro\n")
    assert refresh_docs(res, doc) is True
    text = doc.read_text()
    assert "stale" not in text and text.startswith("intro\n") and text.endswith("outro\n")
    assert "[`a`](../benchmarks/results/a.md) | x | 1.00 s | 2.00 s (base) | 0.5× | ≤ 1× baseline | met |" in text
    assert "Another script's own format" in text and "| 0.5 | then |" in text
    assert "[`third`](../benchmarks/results/third.md) | see the file | — | — | — | — | | 7.5–10.8 | — |" in text
    assert "](a.md)" in (res / "README.md").read_text()
    assert refresh_docs(res, doc) is False  # nothing new: nothing changes
    assert [d["name"] for d in read_all(res)] == ["a", "other", "third"]


def test_a_doc_without_the_markers_is_named(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("no markers\n")
    with pytest.raises(SystemExit, match=r"doc\.md: the markers"):
        refresh_docs(tmp_path, doc)
