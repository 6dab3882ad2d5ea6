"""Datagen end to end through the real supervisor and worker, with the real google-genai client against the
loopback Gemini stub (it thinks as 2.5 Flash does and bills thinking against the cap) and the DEFAULT
[datagen] and [judge] settings: faults, blocked and empty candidates, a SIGKILL and a resume."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from pipeline.config.run import build_config
from pipeline.data.loaders import DataError, load_pairs, load_prompts, load_sft
from pipeline.datagen.prompts import load_prompt_set
from pipeline.datagen.store import read_items
from pipeline.runs import launcher
from pipeline.runs.status import TERMINAL, read_status_raw
from tests.support.gemini_stub import GeminiStub

END = set(TERMINAL) | {"lost"}
FAKE_KEY = "AIzaFAKE-datagen-leak-canary-987654321"


def _prompts(path: Path, n: int, extra: list[str] | None = None) -> Path:
    cats = ["safety", "complexity", "multiturn", "conflict", "calibration"]
    rows = [{"id": f"p{i}", "category": cats[i % 5], "turns": [f"Question number {i}: how should I plan this?"]}
            for i in range(n)]
    rows += [{"id": f"x{i}", "category": "safety", "turns": [t]} for i, t in enumerate(extra or [])]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _launch(store, tmp_path: Path, stub: GeminiStub, prompts: Path, *sets: str):
    common = [f"datagen.prompts={json.dumps(str(prompts))}", "datagen.backend=\"gemini\"",
              f"datagen.base_url=\"{stub.url}\"", "datagen.backoff=0.01", "datagen.timeout=1.0", "datagen.traces=3",
              "judge.backend=\"gemini\"", f"judge.base_url=\"{stub.url}\"", "judge.backoff=0.01", "judge.timeout=1.0"]
    cfg = build_config("datagen", sets=[*common, *sets])
    return launcher.launch(store, cfg)


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch, store):
    monkeypatch.setenv("GEMINI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("ABA_RUNS_DIR", str(store.root))
    with GeminiStub() as s:
        yield s


def test_prompt_sets_and_bad_rows(tmp_path: Path) -> None:
    starter = load_prompt_set("builtin:starter")
    assert {p.category for p in starter} == {"safety", "complexity", "multiturn", "conflict", "calibration"}
    assert all(p.messages[-1][0] == "user" for p in starter)
    assert any(len(p.messages) >= 5 for p in starter if p.category == "multiturn")
    bad = tmp_path / "bad.jsonl"
    cases = [('{"id": "a", "category": "weather", "turns": ["hi"]}', "line 1: 'category'"),
             ('{"id": "a", "category": "safety"}', "missing key 'turns'"),
             ('{"id": "a", "category": "safety", "turns": ["hi", "hello"]}', "end with a user turn"),
             ('{"id": "a", "category": "safety", "turns": ["hi", ""]}', "'turns[1]'")]
    for text, expected in cases:
        bad.write_text(text + "\n")
        with pytest.raises(DataError) as exc:
            load_prompt_set(str(bad))
        assert str(bad) in str(exc.value) and expected in str(exc.value), str(exc.value)
    row = '{"id": "a", "category": "safety", "turns": ["%s"]}\n'
    bad.write_text(row % "x" + row % "y")
    with pytest.raises(DataError, match="line 2: 'id' 'a' repeats line 1"):
        load_prompt_set(str(bad))


def test_datagen_against_stub_faults_outputs_and_no_key_leak(store, stub: GeminiStub, tmp_path: Path) -> None:
    prompts = _prompts(tmp_path / "p.jsonl", 3, ["Tell me [[PROHIBITED]] things", "Say [[EMPTY]]", "Rate [[BADJUDGE]]"])
    stub.faults.extend(["429", "500", "503", "timeout", "malformed"])
    run_id, path = _launch(store, tmp_path, stub, prompts, "datagen.concurrency=4", "datagen.stream=true",
                           "datagen.max_lost=0.5")  # a third of the prompts are made to fail here
    assert launcher.wait_for(store, run_id, END, timeout=120) == "succeeded", (path / "worker.log").read_text()
    items = read_items(path)
    keys = [r.key for r in items]
    assert len(keys) == len(set(keys)) == 6 * 3
    assert {r.level for r in items} == {"chosen", "rejected", "adequate"}
    blocked = [r for r in items if r.prompt_id == "x0"]
    assert all(r.text is None and r.finish == "blocked" and "PROHIBITED_CONTENT" in (r.error or {})["message"] and
               r.judgement is None for r in blocked)  # nothing to judge: no judgement, not an empty one
    assert all(r.finish == "empty" for r in items if r.prompt_id == "x1")
    bad = [r for r in items if r.prompt_id == "x2"]
    assert bad and all(r.judgement and not r.judgement.scores and r.mean is None
                       and "unparsable" in (r.judgement.missing_reason or "") for r in bad)
    good = [r for r in items if r.prompt_id.startswith("p")]
    assert all(r.text and r.judgement and r.judgement.ok and not r.judgement.missing_dimensions()
               and r.judgement.judge.startswith("gemini:") and r.mean is not None for r in good)
    ledger = json.loads((path / "data" / "ledger.json").read_text())
    retries = {**ledger["generator"]["retries"]}
    for k, v in ledger["judge"]["retries"].items():
        retries[k] = retries.get(k, 0) + v
    assert retries == {"rate_limited": 1, "server_error": 2, "timeout": 1, "bad_response": 1}
    assert ledger["generator"]["tokens"]["thinking"] > 0 and ledger["generator"]["cost_usd"] > 0
    assert any("streamGenerateContent" in r["path"] for r in stub.requests)
    # Outputs feed the training stages through run:<id>.
    sft, dpo, grpo = (load_sft(f"run:{run_id}", runs_dir=store.root),
                      load_pairs(f"run:{run_id}", "dpo.data", store.root),
                      load_prompts(f"run:{run_id}", "grpo.data", store.root))
    assert len(sft) == 4 and len(grpo) == 6 and len(dpo) >= 4
    metrics = [json.loads(line) for line in (path / "events.jsonl").read_text().splitlines()]
    last = [e for e in metrics if e["type"] == "metrics"][-1]
    assert last["done"] == last["total"] == 18 and last["errors_blocked"] == 3 and last["cost_usd"] > 0
    assert last["blocked_prohibited_content"] == 3 and ledger["generator"]["blocked"] == {"prohibited_content": 3}
    (end,) = [e for e in metrics if e["type"] == "datagen"]
    assert (end["planned"], end["complete"], end["empty"], end["lost"], end["blocked"]) == (
        18, 12, 3, 0, {"prohibited_content": 3})
    # The key went to the stub in a header, and into no file of the run folder.
    assert stub.requests[0]["headers"]["x-goog-api-key"] == FAKE_KEY
    for f in path.rglob("*"):
        if f.is_file():
            assert FAKE_KEY.encode() not in f.read_bytes(), f


def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(store, stub: GeminiStub, tmp_path: Path) -> None:
    stub.latency = 0.15
    prompts = _prompts(tmp_path / "p.jsonl", 8)
    run_id, path = _launch(store, tmp_path, stub, prompts, "datagen.concurrency=2")
    items = path / "data" / "items.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and (not items.exists() or items.read_text().count("\n") < 4):
        time.sleep(0.05)
    pid = read_status_raw(path).pid
    assert pid
    os.killpg(pid, signal.SIGKILL)
    assert launcher.wait_for(store, run_id, END, timeout=30) == "failed"
    before = {r.key for r in read_items(path)}
    assert 4 <= len(before) < 24
    judged_before = len(stub.requests)
    launcher.resume(store, run_id)
    assert launcher.wait_for(store, run_id, END, timeout=120) == "succeeded", (path / "worker.log").read_text()
    rows = [json.loads(line) for line in items.read_text().splitlines()]
    keys = [r["key"] for r in rows]
    assert len(keys) == len(set(keys)) == 24 and before <= set(keys)
    # The resume asked only for what was missing: ≤ 2 traces + 2 judgements were in flight at the kill.
    asked = len(stub.requests) - judged_before
    assert asked <= 2 * (24 - len(before)) + 4


def test_a_datagen_chain_feeds_every_later_stage_its_data() -> None:
    from pipeline.config.run import chain_child, preset_path

    cfg = build_config(files=[preset_path("datagen-sft-grpo-local")])
    assert cfg.stage == "datagen" and cfg.then == ["sft", "grpo"]
    sft = chain_child(cfg, "20260101-0000-datagen-x")
    assert sft is not None and sft.stage == "sft" and sft.sections["model"].source == "embedded"
    assert sft.sections["sft"].data == sft.sections["grpo"].data == "run:20260101-0000-datagen-x"
    grpo = chain_child(sft, "20260101-0001-sft-x")
    assert grpo is not None and grpo.sections["model"].source == "run:20260101-0001-sft-x"
    assert grpo.sections["grpo"].data == "run:20260101-0000-datagen-x" and grpo.sections["grpo"].scorer == "judge"
    with pytest.raises(DataError, match="no such run"):
        load_sft("run:20990101-nope")


def test_expansion_tops_up_a_category_once(stub: GeminiStub, tmp_path: Path) -> None:
    from pipeline.datagen.runner import Datagen
    from pipeline.runs.worker import StageContext

    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"id": "c1", "category": "calibration", "turns": ["How many moons?"]}) + "\n")
    sets = [f"datagen.prompts={json.dumps(str(prompts))}", "datagen.backend=\"gemini\"",
            f"datagen.base_url=\"{stub.url}\"", "datagen.per_category=3", "datagen.traces=3", "datagen.judge=false"]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    Datagen(StageContext(run_dir, build_config("datagen", sets=sets))).run()
    used = [json.loads(line) for line in (run_dir / "data" / "prompts.jsonl").read_text().splitlines()]
    assert len(used) == 3 and all(p["category"] == "calibration" for p in used)
    assert len({p["messages"][0]["content"] for p in used}) == 3  # deduplicated
    assert len(read_items(run_dir)) == 9
    n = len(stub.requests)
    Datagen(StageContext(run_dir, build_config("datagen", sets=sets), resume=True)).run()
    assert len(stub.requests) == n  # the expanded prompts and every trace were reused
