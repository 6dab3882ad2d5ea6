"""How the other stages' runs are counted and charted: phases and each phase's ETA, the summary `aba ps`
reads, the datagen rates, the study's running best, the stages' alert rules, and the registry's charts."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from pipeline import registry
from pipeline.abliterate.pareto import Trial, choose
from pipeline.abliterate.progress import RunningBest
from pipeline.datagen.rates import Rates
from pipeline.datagen.store import Item
from pipeline.evaluate.progress import eval_phases
from pipeline.judge.interface import Judgement
from pipeline.monitor import alerts as rules
from pipeline.monitor.chart_spec import expand
from pipeline.monitor.entries import summarize_tail
from pipeline.monitor.pace import Pace
from pipeline.monitor.series import RunSeries


def progress(ts: float, step: int, total: int, phase: str, phases: list[str] | None = None) -> dict:
    ev = {"ts": ts, "type": "progress", "step": step, "total_steps": total, "phase": phase}
    return {**ev, "phases": phases} if phases else ev


def test_each_phase_counts_from_its_own_start_and_its_eta_leaves_out_the_first_units_loading():
    s = RunSeries(counted_by="progress")
    phases = ["prepare", "trials", "save"]
    s.ingest([progress(0, 0, 2, "prepare", phases), progress(50, 2, 2, "prepare"), progress(50, 0, 10, "trials")])
    assert (s.phase, s.done, s.total_steps, s.more_phases) == ("trials", 0, 10, True)
    s.ingest([progress(100, 1, 10, "trials")])  # the first trial also loaded the model: 50 s
    s.ingest([progress(110, 2, 10, "trials"), progress(120, 3, 10, "trials")])
    assert s.eta() == pytest.approx(7 * 10)  # 10 s a trial since the first one, not (120-50)/3
    s.ingest([progress(130, 0, 1, "save")])
    assert (s.phase, s.eta(), s.more_phases) == ("save", None, False)  # nothing counted in it yet; the last phase


def test_a_trainers_count_is_its_metrics_step():
    s = RunSeries()
    s.ingest([{"ts": 0, "type": "progress", "step": 0, "total_steps": 100}]
             + [{"ts": 10 * i, "type": "metrics", "step": i, "loss": 1.0} for i in range(1, 6)])
    assert (s.done, s.phase, s.eta()) == (5, None, pytest.approx(95 * 10))


def test_the_summary_takes_the_latest_phase_and_its_count(tmp_path: Path):
    path = tmp_path / "events.jsonl"
    evs = [progress(0, 0, 2, "prepare", ["prepare", "trials"]), progress(5, 2, 2, "prepare"),
           progress(6, 0, 30, "trials"), {"ts": 7, "type": "metrics", "step": 1, "refusals": 3.0},
           progress(7, 1, 30, "trials")]
    path.write_text("".join(json.dumps(e) + "\n" for e in evs))
    assert summarize_tail(path, counted_by="progress") == {"total": 30, "phase": "trials", "done": 1, "step": 1}


def item(outcome: str, level: str = "chosen", score: float | None = 0.5) -> Item:
    judged = Judgement({"helpfulness": score}) if score is not None else Judgement({}, missing_reason="quota")
    text = "an answer" if outcome == "complete" else None
    return Item("k", "p", "c", level, 0, [], text, "STOP" if text else outcome, None if text else {"kind": outcome},
                judged if text else None)


def test_datagen_rates_are_over_the_last_traces_so_a_rising_error_rate_shows_and_alerts():
    clock = [0.0]
    r = Rates(judging=True, window=10, clock=lambda: clock[0])
    r.seen(item("complete", "rejected", 0.2))  # an earlier attempt's trace: a score, not pace
    for i in range(20):
        clock[0] += 3.0
        r.add(item("complete", score=None if i == 15 else 0.9))
    ok = r.metrics()
    assert ok["error_rate"] == 0 and ok["judge_missing_rate"] == pytest.approx(0.1)
    assert ok["items_per_min"] == pytest.approx(20)  # 20 in the first minute (the earlier trace is no pace)
    assert ok["judge_mean/chosen"] == pytest.approx(0.9) and ok["judge_mean/rejected"] == pytest.approx(0.2)
    th = rules.Thresholds()
    assert not [a for a in rules.stage_conditions("d", ok, 20, th) if a]
    for outcome in ("client_error", "blocked", "empty", "complete", "client_error"):
        r.add(item(outcome) if outcome != "complete" else item(outcome, score=0.9))
    bad = r.metrics()
    assert bad["error_rate"] == pytest.approx(0.3)  # 3 of the last 10 (a safety block is not an error)
    raised = [a for a in rules.stage_conditions("d", bad, 25, th) if a]
    assert [a.code for a in raised] == ["error_rate_high"] and "30%" in raised[0].message
    assert not [a for a in rules.stage_conditions("d", bad, 5, th) if a]  # too few traces for a rate yet
    th.error_rate = 0.0
    assert not [a for a in rules.stage_conditions("d", bad, 25, th) if a]  # 0: off


def test_pace_is_over_the_last_minute():
    clock = [0.0]
    p = Pace(lambda: clock[0])
    p.add(30)
    clock[0] = 30.0
    assert p.per_min() == 60.0  # the pace so far while younger than a minute
    clock[0] = 100.0
    p.add(5)
    assert p.per_min() == 5.0  # the 30 fell out of the window


def test_the_running_best_is_the_chosen_rule_over_every_trial_so_far_and_a_flat_study_alerts():
    rng = random.Random(3)
    trials = [Trial(n, {"refusals": float(rng.randint(0, 20)), "kl": rng.uniform(0.0, 2.0)}) for n in range(40)]
    best = RunningBest(max_kl=1.0)
    for n, t in enumerate(trials):
        out = best.add(t.number, t.values)
        want = choose(trials[: n + 1], 1.0)
        assert want is not None and out["best/refusals"] == want.values["refusals"]
        assert out["trials_since_best"] == n - want.number
    resumed = RunningBest(1.0, trials[:25])  # a resumed study counts on from where it was
    assert resumed.since == RunningBest(1.0, trials[:25]).since and resumed.best == choose(trials[:25], 1.0)
    alert = rules.study_stalled("s", 12, 10)
    assert alert is not None and alert.code == "study_stalled" and rules.study_stalled("s", 12, 0) is None


def test_the_registry_names_charts_and_the_phases_the_stages_go_through():
    stages = registry.stages()
    for st in stages.values():
        for spec in st.charts:
            assert expand(spec, []) is not None and all(p.strip() for p in spec.split("+"))
        assert st.counted_by in ("metrics", "progress")
    names = {s: [p.name for p in stages[s].phases] for s in ("eval", "abliterate", "merge", "datagen")}
    assert set(eval_phases("rubric", True, 2)) <= set(names["eval"]) and eval_phases("none", True, 2) == ["answer"]
    assert expand("refusals+best/refusals", ["kl"]) == ["refusals", "best/refusals"]
    assert expand("judge_mean/*", ["judge_mean/b", "judge_mean/a", "loss"]) == ["judge_mean/a", "judge_mean/b"]


def test_an_eval_runs_phases_count_answers_then_judged_answers_and_chart_its_headline(store) -> None:  # type: ignore[no-untyped-def]
    from pipeline.config.run import build_config
    from pipeline.evaluate.progress import EvalProgress
    from pipeline.runs.store import load_run_config
    from pipeline.runs.worker import StageContext

    _rid, path = store.create_run(build_config("eval"))
    ctx = StageContext(path, load_run_config(path))
    p = EvalProgress(ctx, eval_phases("rubric", True, 2))
    p.start("answer", 8, models=["a", "b"])
    p.answered(3)
    p.answered(8, fresh=0)
    p.judged(0, 4)  # as pipeline.evaluate.judged calls it: the phase, then each model's answers
    p.judged(2, 4)
    p.judged(4, 4)
    p.headline(1, {"self_pragmatism": 0.4, "note": "text"})
    s = RunSeries(counted_by=registry.stages()["eval"].counted_by)
    s.ingest([json.loads(x) for x in (path / "events.jsonl").read_text().splitlines()])
    assert (s.phase, s.done, s.total_steps, s.phases) == ("judge", 4, 4, ["answer", "judge", "tournament"])
    assert s.metric_names() == ["answers_per_min", "headline/self_pragmatism"]
