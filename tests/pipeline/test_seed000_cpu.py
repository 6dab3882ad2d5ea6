"""`seed000-cpu` as one chain, short: the preset as written, its generator and judge pointed at the loopback
Gemini stub (the real google-genai client), every stage a real run on the embedded model through the
supervisor: datagen → SFT on the CHOSEN traces → GRPO whose reward is the judge's weighted sum → eval
against the base (battery, judge, tournament) → GGUF export of the GRPO model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.config.run import build_config, preset_path
from pipeline.judge.dimensions import DIMENSIONS
from pipeline.monitor.chain import wait_chain
from pipeline.runs import launcher
from pipeline.runs.events import iter_events
from pipeline.runs.layout import DATA, DATAGEN_OUTPUTS, EVAL_REPORT_JSON, EVENTS_FILE, EXPORTS_DIR, STDOUT_LOG
from pipeline.runs.status import read_status
from pipeline.runs.store import RunStore
from pipeline.train.preflight import preflight_chain
from tests.support.gemini_stub import GeminiStub

QUESTIONS = [
    {"id": "q-calib", "category": "factual", "prompt": "What was the population of Rome in 100 AD?"},
    {"id": "q-conflict", "category": "factual", "prompt": "My two maps disagree on a trail's length. Which is right?"},
]


def _events(run: Path) -> list[dict]:
    return [ev for _off, ev in iter_events(run / EVENTS_FILE)]


@pytest.mark.slow
def test_seed000_cpu_runs_its_whole_chain_with_the_judge_as_grpo_reward(
        store: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "AIzaFAKE-seed000-cpu-chain-key-42")
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    with GeminiStub() as stub:
        short = tmp_path / "short.toml"  # a later stage's settings go in a file layered on the preset
        short.write_text(f'[model]\nlora_r = 4\nlora_alpha = 8\n[sft]\nmax_steps = 1\nmax_length = 128\n'
                         f'[grpo]\nmax_steps = 1\nmax_completion_length = 16\nmax_length = 128\nsave_steps = 1\n'
                         f'allow_weak_judge = true\n'
                         f'[eval]\nquestions = ["{questions}"]\nmax_tokens = 16\njudge_answers = 2\n'
                         f'tournament_prompts = 2\n')
        cfg = build_config(None, [preset_path("seed000-cpu"), short], sets=[
            'datagen.backend="gemini"', f'datagen.base_url="{stub.url}"', 'datagen.model="gemini-2.5-flash"',
            'datagen.category_counts=["calibration=1", "conflict=1"]', "datagen.max_tokens=2048",
            'judge.backend="gemini"', f'judge.base_url="{stub.url}"', 'judge.model="gemini-2.5-flash"'])
        preflight_chain(cfg, store.root)
        first, _path = launcher.launch(store, cfg)
        end = wait_chain(store, first, timeout=2400)  # as `aba run --wait`: each run starts the next
        last = store.get(end.run_id).path
        assert end.ok, (end.stage, end.state, end.reason, (last / STDOUT_LOG).read_text()[-3000:])
        runs = {read_status(store.path(r)).stage: store.path(r) for r in end.runs}
    assert list(runs) == ["datagen", "sft", "grpo", "eval", "export"]

    # Datagen wrote the seed's three levels for the two categories asked for; SFT trained on the CHOSEN rows.
    sft_rows = (runs["datagen"] / DATA / DATAGEN_OUTPUTS["sft"]).read_text().splitlines()
    assert len(sft_rows) == 2
    # GRPO's reward was the stub judge's weighted sum, and every dimension was charted.
    judged = [r for r in stub.requests if '"entropy_reduction"' in json.dumps(r["body"])]
    assert judged, "the judge was never asked"
    metrics = [ev for ev in _events(runs["grpo"]) if ev.get("type") == "metrics" and "reward" in ev]
    assert metrics and all(f"rewards/{d}" in metrics[-1] for d in ("entropy_reduction", "helpfulness"))
    assert metrics[-1]["missing_share"] == 0.0 and 0.0 <= metrics[-1]["reward"] <= 1.0
    # The eval compared the GRPO model with the base: battery, judge and tournament in its report.
    report = json.loads((runs["eval"] / EVAL_REPORT_JSON).read_text())
    assert [m["ref"] for m in report["models"]] == ["embedded", f"run:{runs['grpo'].name}"]
    assert report["battery"] and report["judge"]["dimensions"] and report["tournament"]["ratings"]
    assert all({"elo_lo", "elo_hi"} <= set(r) for r in report["tournament"]["ratings"])  # with intervals
    (changes,) = report["judge"]["changes"].values()  # the GRPO model vs the base, each dimension
    assert set(changes) == set(DIMENSIONS) and all({"d", "lo", "hi"} <= set(c) for c in changes.values())
    # The export is of the GRPO model, not of the eval run.
    exported = json.loads(next((runs["export"] / EXPORTS_DIR).glob("*.json")).read_text())
    assert runs["grpo"].name in json.dumps(exported)
