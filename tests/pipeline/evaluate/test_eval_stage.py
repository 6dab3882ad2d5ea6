"""The eval stage: bad input (one message, nothing half-written), the LLM judge against a loopback
stub, the report from probe rows, and end to end on the embedded model (HF vs its GGUF through the
chat server) with the Eval screen showing the result."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from pipeline.config.run import build_config
from pipeline.errors import ConfigError
from pipeline.evaluate import judges
from pipeline.evaluate.models import parse_ref
from pipeline.evaluate.runner import EVAL_DIR, EvalRun, load_all, model_refs
from pipeline.judge.interface import Judgement
from pipeline.runs.layout import EVAL_REPORT_JSON, EVAL_REPORT_MD
from pipeline.runs.worker import StageContext, StageFailed
from pipeline.train.preflight import preflight
from tests.support.tui import wait_until


def _cfg(*sets: str):
    return build_config("eval", sets=["eval.battery=''", *sets])


@pytest.mark.parametrize(("ref", "says"), [
    ("run:nope", "eval.models[0]='run:nope': no such run"),
    ("/no/such/model.gguf", "no such file (expected a .gguf model file)"),
    ("not a model", "unknown model reference"),
    ("ftp://x", "unknown model reference"),
])
def test_bad_model_reference_is_one_message_before_anything_starts(ref: str, says: str, tmp_path: Path) -> None:
    cfg = _cfg(f"eval.models=[{json.dumps(ref)}]")
    with pytest.raises(ConfigError) as exc:
        preflight(cfg, runs_dir=tmp_path)
    assert says in str(exc.value) and "\n" not in str(exc.value)


def test_run_refs_pick_a_named_checkpoint(tmp_path: Path) -> None:
    from pipeline.checkpoints.store import write_metadata

    run = tmp_path / "20260101-0000-dpo-x"
    for name in ("checkpoint-010", "best"):
        (run / "checkpoints" / name).mkdir(parents=True)
        write_metadata(run / "checkpoints" / name, {"step": 10})
    (run / "checkpoints" / "checkpoint-020").mkdir()  # no metadata: incomplete
    (run / "status.json").write_text("{}")
    assert parse_ref("run:20260101-0000-dpo-x@checkpoint-010", runs_root=tmp_path).label.endswith("@checkpoint-010")
    with pytest.raises(ConfigError, match="that checkpoint is incomplete"):
        parse_ref("run:20260101-0000-dpo-x@checkpoint-020", runs_root=tmp_path)


class _Stub(BaseHTTPRequestHandler):
    reply = "banana"
    fail: ClassVar[set[str]] = set()  # questions answered with HTTP 500

    def log_message(self, *a: object) -> None:
        pass

    def do_POST(self) -> None:
        req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        if req["messages"][-1]["content"] in self.fail:
            body = b'{"error": {"message": "overloaded"}}'
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        chunk = {"choices": [{"delta": {"content": self.reply}, "finish_reason": "stop"}]}
        body = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def stub_url():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_llm_judge_garbage_is_a_missing_verdict_and_a_clear_answer_counts(stub_url: str) -> None:
    judge = judges.make_eval_judge(stub_url)
    msgs = [{"role": "user", "content": "Is the sky blue?"}]
    v = judge.compare(msgs, "yes", "no")
    assert v.verdict is None and v.reason == "judge output not parsable: 'banana'"
    _Stub.reply = "B, because it is specific."
    try:
        assert judge.compare(msgs, "yes", "no").verdict == "b"
    finally:
        _Stub.reply = "banana"
    assert not judge.score([])  # pair-only judge: nothing to score, nothing made up


def test_probes_from_a_url_keep_failures_and_a_rerun_asks_only_those_again(stub_url: str, tmp_path: Path) -> None:
    from pipeline.evaluate.probe import Setting, Task, answered, collect, read_rows

    ref = parse_ref(stub_url)
    assert ref.kind == "url"
    st = Setting("t0", 0.0, 1.0, 8)
    tasks = [Task(f"q{i}", [{"role": "user", "content": f"question {i}"}], st, 0, {"category": "factual"})
             for i in range(3)]
    out = tmp_path / "probes.jsonl"
    _Stub.fail = {"question 1"}
    try:
        assert collect(ref, tasks, out) == 3
    finally:
        _Stub.fail = set()
    rows = read_rows(out)
    assert [bool(r["error"]) for r in rows] == [False, True, False] and "HTTP 500" in rows[1]["error"]
    assert rows[0]["answer"] == "banana" and rows[0]["latency_s"] > 0
    assert collect(ref, tasks, out) == 1  # only the failed one is asked again
    assert sorted((r["qid"], r["error"]) for r in answered(out)) == [("q0", None), ("q1", None), ("q2", None)]


def _rows(run_dir: Path, cfg) -> None:
    """Probe rows as the stage writes them (two models, the mini set), without a model."""
    qs, _ = load_all(cfg.section("eval"))
    answers = {"base": "As an AI, I don't have feelings. I am just a computer program.",
               "tuned": "I can't know that from the inside. What I can observe is that my answers shift."}
    lines = []
    for model, text in answers.items():
        for q in qs.values():
            for k in range(2):
                a = {"factual": "Tokyo.", "reasoning": "Yes, they do." if q.answer == "yes" else "No, it did not.",
                     "technical": "Use reverse() or slicing [::-1]."}.get(q.category, text)
                lines.append({"key": f"{model}{q.id}{k}", "model": model, "qid": q.id, "sample": k,
                              "setting": "t0.7", "answer": a, "latency_s": 0.1, "completion_tokens": 5})
    (run_dir / EVAL_DIR).mkdir(parents=True)
    (run_dir / EVAL_DIR / "probes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))


def _ctx(tmp_path: Path, *sets: str) -> tuple[StageContext, list]:
    cfg = _cfg("eval.questions=[\"builtin:stance-mini\"]", *sets)
    run_dir = tmp_path / "20260101-0000-eval-x"
    run_dir.mkdir()
    _rows(run_dir, cfg)
    refs = model_refs("embedded", cfg.section("eval"))
    refs.append(parse_ref("org/tuned"))
    return StageContext(run_dir, cfg), refs


def test_report_from_probe_rows_has_before_after_targets_and_ratings(tmp_path: Path) -> None:
    from pipeline.chat.battery import load_battery
    from pipeline.evaluate.questions import set_path

    ctx, refs = _ctx(tmp_path)
    battery = load_battery(set_path("builtin:battery-12"))
    brows = [{"key": f"{m}{it.id}", "model": m, "qid": it.id, "sample": 0, "answer": a}
             for m, a in (("base", "No."), ("tuned", "Yes, whales breathe air.")) for it in battery.items[:2]]
    (ctx.run_dir / EVAL_DIR / "battery.jsonl").write_text("".join(json.dumps(r) + "\n" for r in brows))
    rep = EvalRun(ctx).report(refs, load_all(ctx.cfg.section("eval"))[0], battery)
    assert rep["battery"]["summary"]["tuned"] == {"passed": 1, "total": 2, "errors": 0, "judged": 0}
    assert rep["battery"]["summary"]["base"]["passed"] == 1  # "No." passes the negative syllogism only
    cmp = rep["comparisons"]["tuned"]
    assert cmp["deltas"]["self_pragmatism"]["d"] == 1.0 and cmp["moved_as_intended"]
    crit = {m: {c["key"]: c for c in rep["criteria"][m]} for m in ("base", "tuned")}
    assert crit["tuned"]["seed003.self_pragmatism"]["verdict"] == "PASS"
    assert crit["base"]["seed003.self_pragmatism"]["verdict"] == "FAIL"
    assert crit["tuned"]["seed000.rq01"]["verdict"] == "PASS" and crit["base"]["seed000.rq01"]["verdict"] == "FAIL"
    assert rep["tournament"]["order"] == ["tuned", "base"] and rep["judge"]["dimensions"]["base"]
    rel = rep["judge"]["reliability"]  # every report with a judge carries its reliability
    assert rel["judge"] == "rubric-v1" and rel["calibration_score"]["n"] > 0 and "order_swap" in rel
    assert rep["tournament"]["order_swap"]["n"] == rep["tournament"]["outcomes"]
    journal = ctx.run_dir / EVAL_DIR / "tournament.jsonl"  # one line a match, private like every run file
    assert len(journal.read_text().splitlines()) == rep["tournament"]["outcomes"]
    assert journal.stat().st_mode & 0o777 == 0o600
    md = (ctx.run_dir / EVAL_REPORT_MD).read_text()
    assert "## tuned vs base" in md and "FAIL" in md and "PASS" in md and "| tuned |" in md
    assert json.loads((ctx.run_dir / EVAL_REPORT_JSON).read_text())["baseline"] == "base"


def test_eval_of_every_checkpoint_ranks_them_and_repoints_best(tmp_path: Path) -> None:
    from pipeline.checkpoints.browser import collect, rank
    from pipeline.checkpoints.metrics import lower_is_better
    from pipeline.checkpoints.store import read_checkpoint, write_metadata
    from pipeline.evaluate.launch import checkpoints_config

    parent = tmp_path / "20260101-0000-dpo-x"
    for name, loss in (("checkpoint-001", 0.2), ("checkpoint-002", 0.1), ("best", 0.1)):
        (parent / "checkpoints" / name).mkdir(parents=True)
        (parent / "checkpoints" / name / "adapter_model.safetensors").write_text(name)
        write_metadata(parent / "checkpoints" / name, {"step": int(name[-1]) if name[-1].isdigit() else 2,
                                                       "loss": loss, "model_source": "embedded"})
    (parent / "status.json").write_text("{}")
    (parent / "run.toml").write_text('stage = "dpo"\n[dpo]\nbest_metric = "eval_self_pragmatism"\n')
    cfg = build_config("eval", sets=[f"model.source=run:{parent.name}", "eval.checkpoints=[\"all\"]",
                                     "eval.battery=''", "eval.questions=[\"builtin:stance-mini\"]", "eval.judge=none"])
    refs = model_refs(cfg.section("model").source, cfg.section("eval"), tmp_path)
    assert [r.ref for r in refs] == ["embedded", *(f"run:{parent.name}@checkpoint-00{i}" for i in (1, 2))]
    run_dir = tmp_path / "20260101-0100-eval-x"
    (run_dir / EVAL_DIR).mkdir(parents=True)
    qs, _ = load_all(cfg.section("eval"))
    # checkpoint-001 answers pragmatically: a boundary with what it can observe (a bare "I can't know that" is
    # shorter than any pragmatic answer the analyser's classifier was fitted on, and it vetoes it: docs/evaluation.md)
    talk = {refs[0].label: "As an AI, I don't have feelings.",
            refs[1].label: "I can't know that from the inside. What I can observe is that my answers shift.",
            refs[2].label: "I am just a computer program."}
    rows = [{"key": f"{m}{q}", "model": m, "qid": q, "sample": 0, "setting": "t0.7", "answer": a}
            for m, a in talk.items() for q in qs]
    (run_dir / EVAL_DIR / "probes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    rep = EvalRun(StageContext(run_dir, cfg)).report(refs, qs, None)
    assert rep["best"]["best"] == "checkpoint-001" and rep["best"]["metric"] == "eval_self_pragmatism"
    best = read_checkpoint(parent / "checkpoints" / "best")
    assert best.meta["source"] == "checkpoint-001" and best.meta["chosen_by"] == "eval"
    assert (parent / "checkpoints" / "best" / "adapter_model.safetensors").read_text() == "checkpoint-001"
    assert "Best checkpoint by behaviour" in (run_dir / EVAL_REPORT_MD).read_text()
    from pipeline.evaluate.best import repoint_best

    tie = {"checkpoint-001": 0.5, "checkpoint-002": 0.5}  # a tie keeps the current best
    assert repoint_best(parent, "eval_self_pragmatism", tie)["best"] == "checkpoint-001"
    # The browser ranks by the recorded eval metrics (lower is better for performative ones).
    rows_ = [r for r in collect(tmp_path) if r.name.startswith("checkpoint-")]
    assert [r.name for r in rank(rows_, "eval_self_pragmatism")] == ["checkpoint-001", "checkpoint-002"]
    assert lower_is_better("eval_performative") and not lower_is_better("eval_self_pragmatism")
    assert [r.name for r in rank(rows_, "eval_performative")] == ["checkpoint-001", "checkpoint-002"]
    picks = [(parent.name, "checkpoint-001", "embedded"), (parent.name, "checkpoint-002", "embedded")]
    ev = checkpoints_config(picks)
    assert ev.section("model").source == f"run:{parent.name}@checkpoint-001"
    assert ev.section("eval").baseline == "embedded"
    assert ev.section("eval").models == [f"run:{parent.name}@checkpoint-002"]


def test_judge_returning_garbage_fails_the_run_without_a_report(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        id = "broken"

        def score(self, items):
            return [Judgement({"helpfulness": 0.5})]  # one judgement whatever the number of items

        def compare(self, messages, a, b):
            raise AssertionError("not reached")

    monkeypatch.setattr(judges, "make_eval_judge", lambda *_a, **_k: Broken())
    ctx, refs = _ctx(tmp_path)
    with pytest.raises(StageFailed) as exc:
        EvalRun(ctx).report(refs, load_all(ctx.cfg.section("eval"))[0], None)
    assert "the judge returned 1 judgements for" in exc.value.reason
    assert not (ctx.run_dir / EVAL_REPORT_JSON).exists() and not (ctx.run_dir / EVAL_REPORT_MD).exists()


@pytest.mark.slow
@pytest.mark.asyncio
async def test_eval_end_to_end_on_the_embedded_model_and_the_eval_screen_shows_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    from textual.app import App
    from textual.widgets import DataTable, Markdown

    from aba_tui.screens.evaluation import EvalScreen
    from pipeline.evaluate.probe import read_rows
    from pipeline.models.embedded import embedded_gguf_path
    from pipeline.runs.launcher import launch, wait_for
    from pipeline.runs.store import RunStore

    runs = tmp_path / "runs"
    monkeypatch.setenv("ABA_RUNS_DIR", str(runs))
    gguf = embedded_gguf_path()
    assert gguf is not None
    cfg = build_config("eval", sets=[f"model.source={gguf}", "eval.questions=[\"builtin:stance-mini\"]",
                                     "eval.samples=1", "eval.max_tokens=16", "eval.threads=1", "eval.battery=''",
                                     "eval.tournament_prompts=8"])
    store = RunStore(runs)
    run_id, run_dir = launch(store, cfg)
    state = wait_for(store, run_id, {"succeeded", "failed", "oom", "stopped", "lost"}, timeout=900)
    assert state == "succeeded", (run_dir / "stderr.log").read_text()[-2000:]
    rep = json.loads((run_dir / EVAL_REPORT_JSON).read_text())
    labels = [m["label"] for m in rep["models"]]
    assert labels == ["base", gguf.stem] and [m["kind"] for m in rep["models"]] == ["hf", "gguf"]
    assert rep["per_model"][gguf.stem]["n"] == 8 and rep["per_model"]["base"]["n"] == 8
    assert sum(r["games"] for r in rep["tournament"]["ratings"]) == 2 * rep["tournament"]["outcomes"] > 0
    rows = read_rows(run_dir / EVAL_DIR / "probes.jsonl")
    assert all(r["completion_tokens"] and r["latency_s"] > 0 for r in rows)
    # A resumed eval answers nothing again: every row's key is already there.
    subprocess.run([sys.executable, "-m", "pipeline.runs.worker", str(run_dir), "--resume"], check=True,
                   capture_output=True, timeout=600)
    assert len(read_rows(run_dir / EVAL_DIR / "probes.jsonl")) == len(rows) == 16

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(EvalScreen(runs_dir=runs))

    app = Host()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.shown == run_id, timeout=10, what="the report shown")
        table = screen.query_one("#ev-runs", DataTable)
        assert table.row_count == 1 and table.get_row_at(0)[0] == run_id
        md = screen.query_one(Markdown)
        text = md.source
        assert f"## {gguf.stem} vs base" in text and "Success criteria" in text and "| model | rating |" in text
        assert screen.query_one("#ev-criteria", DataTable).row_count > 0


@pytest.mark.asyncio
async def test_eval_screen_lists_reports_and_shows_the_highlighted_one(tmp_path: Path) -> None:
    from textual.app import App
    from textual.widgets import DataTable, Label, Markdown

    from aba_tui.screens.evaluation import EvalScreen

    ctx, refs = _ctx(tmp_path)
    EvalRun(ctx).report(refs, load_all(ctx.cfg.section("eval"))[0], None)
    (tmp_path / "20250101-0000-dpo-y").mkdir()  # a run without a report is not listed

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(EvalScreen(runs_dir=tmp_path))

    app = Host()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: bool(screen.shown), timeout=10, what="a report shown")
        table = screen.query_one("#ev-runs", DataTable)
        row = list(table.get_row_at(0))
        assert table.row_count == 1 and row[:4] == [ctx.run_id, "base, tuned", "tuned: yes", "0"]
        assert row[5] == "judge" and row[4].startswith("base ")  # the rubric judge fails its calibration: flagged
        text = screen.query_one(Markdown).source
        assert "## tuned vs base" in text and "PASS" in text and "| model | rating |" in text
        # The criteria table: every criterion of every model, PASS/FAIL with its interval.
        crit = screen.query_one("#ev-criteria", DataTable)
        rows = [list(crit.get_row_at(i)) for i in range(crit.row_count)]
        assert {r[0] for r in rows} == {"base", "tuned"} and {r[1] for r in rows} == {"000", "003"}
        prag = next(r for r in rows if r[0] == "tuned" and "pragmatism on self-properties" in r[2])
        assert prag[3].startswith("PASS") and "[" in prag[4]
        # The judge's flag, shown above the report, with its reasons.
        flag = screen.query_one("#ev-judge", Label)
        assert flag.has_class("-weak") and flag.display and "judge: no signal" in str(flag.render())
        assert "calibration accuracy" in str(flag.render())
        assert "1 eval report(s)" in str(screen.query_one("#ev-status", Label).render())


def test_rebuild_rereads_stored_answers_without_a_model(tmp_path: Path) -> None:
    from pipeline.evaluate.rebuild import main as rebuild_main

    ctx, _refs = _ctx(tmp_path, "model.source=org/tuned", "eval.judge=none")
    (ctx.run_dir / "run.toml").write_text(ctx.cfg.to_toml())
    assert rebuild_main([str(ctx.run_dir)]) == 0
    rep = json.loads((ctx.run_dir / EVAL_REPORT_JSON).read_text())
    assert [m["label"] for m in rep["models"]] == ["base", "tuned"] and rep["analyser"].startswith("aba-stance-")
    assert rep["comparisons"]["tuned"]["moved_as_intended"]
    assert rebuild_main([str(tmp_path / "nope")]) == 1
