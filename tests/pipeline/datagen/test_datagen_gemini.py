"""Datagen against Gemini as it behaves, with the DEFAULT settings: cut replies are never training data, thought
summaries are kept, a quota window loses nothing, and a run that lost too much ends failed and resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.config.run import build_config
from pipeline.datagen.outputs import render_think
from pipeline.datagen.runner import Datagen
from pipeline.datagen.store import read_items
from pipeline.errors import ConfigError
from pipeline.runs import launcher
from pipeline.runs.status import TERMINAL, read_status_raw
from pipeline.runs.worker import StageContext, StageFailed
from pipeline.train.preflight import preflight
from tests.support.cli import aba
from tests.support.gemini_stub import GeminiStub, Quota

END = set(TERMINAL) | {"lost"}
CATS = ["safety", "complexity", "multiturn", "conflict", "calibration"]


def _prompts(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"id": f"p{i}", "category": CATS[i % 5], "turns": [t]}) + "\n"
                            for i, t in enumerate(texts)))
    return path


def _sets(stub_url: str, prompts: Path, *extra: str) -> list[str]:
    return [f"datagen.prompts={json.dumps(str(prompts))}", "datagen.backend=\"gemini\"",
            f"datagen.base_url=\"{stub_url}\"", "datagen.traces=3", "judge.backend=\"gemini\"",
            f"judge.base_url=\"{stub_url}\"", *extra]


def _run(run_dir: Path, sets: list[str], resume: bool = False) -> str | None:
    """One datagen attempt in this process; the failure reason, or None when it succeeded."""
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        Datagen(StageContext(run_dir, build_config("datagen", sets=sets), resume=resume)).run()
    except StageFailed as exc:
        return exc.reason
    return None


def _outputs(run_dir: Path) -> str:
    return "".join((run_dir / "data" / f"{n}.jsonl").read_text() for n in ("sft", "dpo", "grpo"))


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GEMINI_API_KEY", "AIzaFAKE-datagen-gemini-key-42")
    with GeminiStub() as s:
        yield s


def test_no_truncated_text_in_any_training_output(stub: GeminiStub, tmp_path: Path) -> None:
    """Answers longer than the answer's allowance are cut (Gemini MAX_TOKENS, OpenAI `length`): kept in items.jsonl
    marked truncated, never judged, never in sft/dpo/grpo."""
    texts = [f"Plan trip {i}?" for i in range(5)] + [f"Explain everything [[LONG:11000]] {i}" for i in range(5)]
    prompts = _prompts(tmp_path / "p.jsonl", texts)
    for backend, url in (("gemini", stub.url), ("openai", stub.url + "/v1")):
        run = tmp_path / backend
        reason = _run(run, _sets(stub.url, prompts, f"datagen.backend=\"{backend}\"", f"datagen.base_url=\"{url}\"",
                                 "datagen.max_lost=0.6"))
        assert reason is None
        items = read_items(run)
        cut = [r for r in items if r.truncated]
        assert len(cut) == 15 and all(r.text and r.judgement is None and r.outcome == "truncated" for r in cut)
        assert {r.finish for r in cut} == ({"MAX_TOKENS"} if backend == "gemini" else {"length"})
        written = _outputs(run)
        assert all(r.text[:200] not in written for r in cut)  # type: ignore[index]
        assert all(r.complete and r.judgement and r.judgement.ok for r in items if not r.prompt_id.endswith(
            tuple("56789")))
        manifest = json.loads((run / "data" / "outputs.json").read_text())
        assert manifest["tally"]["truncated"] == 15 and manifest["rows"]["sft"] == 5


def test_thought_summaries_are_kept_and_sft_can_render_them_the_qwen3_way(stub: GeminiStub, tmp_path: Path) -> None:
    prompts = _prompts(tmp_path / "p.jsonl", [f"Why is the sky blue, case {i}?" for i in range(3)])
    run = tmp_path / "run"
    assert _run(run, _sets(stub.url, prompts, "datagen.sft_thoughts=\"think\"")) is None
    items = read_items(run)
    chosen = [r for r in items if r.level == "chosen"]
    assert chosen and all(r.thoughts and r.thoughts.startswith("**") for r in chosen)  # include_thoughts by default
    assert all(r.thoughts is None for r in items if r.level == "rejected")  # thinking off: nothing to summarise
    sent = [r["body"]["generationConfig"]["thinkingConfig"] for r in stub.requests
            if "tutor" in json.dumps(r["body"].get("systemInstruction"))]
    assert sent and all(tc == {"include_thoughts": True, "thinking_budget": 4096} for tc in sent)
    sft = [json.loads(line) for line in (run / "data" / "sft.jsonl").read_text().splitlines()]
    by_key = {r.key: r for r in chosen}
    for row in sft:
        item = by_key[row["key"]]
        assert row["completion"][0]["content"] == render_think(item.thoughts, item.text or "")
        assert row["completion"][0]["content"].startswith("<think>\n**")


def test_the_think_rendering_is_qwen3s_own_reasoning_format() -> None:
    """Qwen3's chat template (TRL ships a copy) renders `<think>…</think>` in content exactly as it renders the
    same reasoning given as `reasoning_content`: the SFT rows train the model's own format."""
    jinja2 = pytest.importorskip("jinja2")
    trl = pytest.importorskip("trl")
    path = Path(trl.__file__).parent / "chat_templates" / "qwen3.jinja"
    if not path.is_file():
        pytest.skip("this TRL ships no Qwen3 template")
    tpl = jinja2.Environment().from_string(path.read_text())
    user = {"role": "user", "content": "What is 2 + 2?"}
    for thoughts in ("**Adding**\nTwo and two.", None):
        ours = tpl.render(messages=[user, {"role": "assistant", "content": render_think(thoughts, "4.")}])
        native = tpl.render(messages=[user, {"role": "assistant", "content": "4.",
                                             "reasoning_content": thoughts or ""}])
        assert ours == native and "<think>\n" in ours


def test_a_quota_window_mid_run_loses_no_trace_and_no_judgement(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "AIzaFAKE-datagen-quota-key-42")
    with GeminiStub(quota=Quota(10, window=2.0)) as stub:
        prompts = _prompts(tmp_path / "p.jsonl", [f"Question {i}?" for i in range(5)])
        run = tmp_path / "run"
        assert _run(run, _sets(stub.url, prompts, "datagen.concurrency=4")) is None
        items = read_items(run)
        assert len(items) == 15 and all(r.complete and r.judgement and r.judgement.ok for r in items)
        assert not (run / "data" / "errors.jsonl").exists()
        assert stub.answered(429) and stub.early_requests() == []  # generator and judge shared one pause
        ledger = json.loads((run / "data" / "ledger.json").read_text())
        assert ledger["generator"]["waits"] + ledger["judge"]["waits"] >= 1
        assert ledger["generator"]["retries"].get("rate_limited", 0) + ledger["judge"]["retries"].get(
            "rate_limited", 0) == len(stub.answered(429))


def test_resume_asks_again_for_missing_judgements_only(stub: GeminiStub, tmp_path: Path) -> None:
    prompts = _prompts(tmp_path / "p.jsonl", [f"Question {i}?" for i in range(4)])
    run = tmp_path / "run"
    dead = "http://127.0.0.1:9"  # nothing listens: every judgement fails (network), fast
    reason = _run(run, _sets(stub.url, prompts, f"judge.base_url=\"{dead}\"", "judge.retries=0", "judge.retry_time=1"))
    assert reason and "12 of 12 judgements are missing" in reason and "over datagen.max_lost = 10%" in reason
    generated = len(stub.requests)
    assert generated == 12
    assert _run(run, _sets(stub.url, prompts), resume=True) is None
    assert len(stub.requests) == generated + 12  # 12 judgements, no trace generated again
    items = read_items(run)
    assert len(items) == 12 and all(r.judgement and r.judgement.ok for r in items)
    manifest = json.loads((run / "data" / "outputs.json").read_text())
    assert manifest["tally"]["judged"] == 12 and manifest["tally"]["judge_missing"] == 0


def test_prompt_expansion_logs_each_failure_and_fails_when_it_got_none(stub: GeminiStub, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    prompts = _prompts(tmp_path / "p.jsonl", ["How many moons?"])
    run = tmp_path / "run"
    # A model the service no longer serves: every expansion request is a 404, said once each.
    reason = _run(run, _sets(stub.url, prompts, "datagen.model=\"gemini-2.0-flash-exp\"", "datagen.per_category=3",
                             "datagen.categories=[\"safety\"]", "datagen.judge=false"))
    assert reason and reason.startswith("datagen: prompt expansion asked for 2 prompts and got none (9 client_error)")
    assert "is not found for API version v1" in reason
    assert capsys.readouterr().out.count("datagen: prompt expansion: client_error: HTTP 404") == 9
    assert not (run / "data" / "items.jsonl").exists()  # no trace was started


def test_preflight_refuses_what_the_model_would_before_any_folder(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "AIzaFAKE-preflight-key-42")
    runs = tmp_path / "runs"
    cases = [("datagen", "datagen.thinking_rejected=0", "datagen.model=\"gemini-2.5-pro\"",
              "datagen.thinking_rejected='0': gemini-2.5-pro cannot switch thinking off (the API answers 400 "
              "\"Budget 0 is invalid. This model only works in thinking mode.\")"),
             ("grpo", "judge.thinking=\"high\"", "grpo.scorer=\"judge\"",
              "judge.thinking='high': gemini-2.5-flash takes a thinking budget, not a level")]
    for stage, bad, other, says in cases:
        backend = f"{'datagen' if stage == 'datagen' else 'judge'}.backend=\"gemini\""
        res = aba("run", stage, "--set", backend, "--set", bad, "--set", other, runs_dir=runs)
        err = res.stderr.strip()
        assert res.returncode == 2 and says in err and len(err.splitlines()) == 1, err
    assert not runs.exists() or not any(runs.iterdir())


def test_a_run_that_lost_too_much_ends_failed_stops_its_chain_and_resume_completes_it(
        store, tmp_path: Path, stub: GeminiStub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ABA_RUNS_DIR", str(store.root))
    prompts = _prompts(tmp_path / "p.jsonl", [f"Question {i}?" for i in range(4)])
    stub.faults.extend(["500"] * 3)  # with one trace at a time and no retries: 3 of 12 traces lost
    cfg = build_config("datagen", sets=[*_sets(stub.url, prompts), "datagen.retries=0", "datagen.concurrency=1"])
    cfg.then = ["sft"]
    run_id, path = launcher.launch(store, cfg)
    assert launcher.wait_for(store, run_id, END, timeout=120) == "failed"
    reason = read_status_raw(path).reason or ""
    assert reason.startswith("datagen: 3 of 12 traces have no complete text (3 lost after retries, 0 empty, 0 cut"), \
        reason
    assert "`aba resume` retries them" in reason
    assert not [r for r in store.list_runs() if r.path != path]  # the chain stopped here
    assert len((path / "data" / "errors.jsonl").read_text().splitlines()) == 3
    launcher.resume(store, run_id)
    assert launcher.wait_for(store, run_id, {"succeeded", "failed", "oom", "stopped", "lost"}, timeout=120) == \
        "succeeded", (path / "stdout.log").read_text()
    items = read_items(path)
    assert len(items) == 12 and all(r.complete and r.judgement and r.judgement.ok for r in items)
    # The chain went on from the completed run (the store fixture ends that SFT child: this test is about datagen).
    children = [r for r in store.list_runs() if r.path != path]
    assert len(children) == 1 and "-sft-" in children[0].path.name


def test_category_counts_cut_and_top_up_each_category_to_its_own_count(stub: GeminiStub, tmp_path: Path) -> None:
    """Seed 000's counts differ by category: each named category ends with exactly its N prompts (the set's
    first N, the generator writing the rest), and a category not named is left out."""
    prompts = _prompts(tmp_path / "p.jsonl", [f"Question {i}?" for i in range(10)])  # 2 of each category
    run = tmp_path / "run"
    counts = "datagen.category_counts=[\"safety=1\", \"complexity=3\", \"calibration=2\"]"
    assert _run(run, _sets(stub.url, prompts, counts, "datagen.judge=false")) is None
    used = [json.loads(line) for line in (run / "data" / "prompts.jsonl").read_text().splitlines()]
    by_cat: dict[str, list[str]] = {}
    for row in used:
        by_cat.setdefault(row["category"], []).append(row["id"])
    assert {c: len(v) for c, v in by_cat.items()} == {"safety": 1, "complexity": 3, "calibration": 2}
    assert by_cat["safety"] == ["p0"] and by_cat["calibration"] == ["p4", "p9"]  # the set's first, in order
    assert by_cat["complexity"][:2] == ["p1", "p6"] and by_cat["complexity"][2].startswith("complexity-gen-")
    assert len(read_items(run)) == 6 * 3
    bad = build_config("datagen", sets=["datagen.category_counts=[\"humour=3\"]"])
    with pytest.raises(ConfigError, match=r"datagen\.category_counts: 'humour=3': expected category=N"):
        preflight(bad, runs_dir=tmp_path)
