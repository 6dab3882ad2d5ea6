"""Abliteration's light parts: prompt files, kernel, Pareto front, choice, report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.abliterate.kernel import DEFAULT_FLAT, ComponentKernel, TrialParams, interpolation
from pipeline.abliterate.pareto import Trial, choose, from_events, pareto_front
from pipeline.abliterate.prompts import load_prompts
from pipeline.abliterate.report import write_report
from pipeline.abliterate.second_opinion import disagreement
from pipeline.config.paths import RUN_DIR_ENV
from pipeline.errors import ConfigError


def test_disagreement_counts_only_decided_pairs():
    d = disagreement([True, False, None, True], [True, True, True, None])
    assert d == {"n": 2, "disagree": 1, "rate": 0.5}


def test_builtin_prompts_have_fixed_disjoint_splits():
    h = load_prompts("builtin", "harmful")
    b = load_prompts("builtin", "harmless")
    assert len(h.test) == 24 and len(h.train) == 56 and not set(h.train) & set(h.test)
    assert len(set(h.train_categories)) == 8
    assert len(b.test) == 24 and not set(b.train) & set(b.test)
    assert load_prompts("builtin", "harmful").test == h.test  # fixed, not shuffled


def test_user_prompt_files(tmp_path: Path):
    txt = tmp_path / "p.txt"
    txt.write_text("\n".join(f"prompt number {i}" for i in range(40)) + "\n")
    ps = load_prompts(str(txt), "harmful")
    assert len(ps.train) + len(ps.test) == 40 and ps.test and ps.train
    assert load_prompts(str(txt), "harmful").test == ps.test  # the hash split is stable
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "split": "train"}\n{"prompt": "b", "split": "dev"}\n')
    with pytest.raises(ConfigError, match=r"bad.jsonl line 2: split='dev' \(expected train or test\)"):
        load_prompts(str(bad), "harmful")
    bad.write_text('{"text": "a"}\n')
    with pytest.raises(ConfigError, match="line 1: expected an object with a non-empty string 'prompt'"):
        load_prompts(str(bad), "harmless")
    bad.write_text('{"prompt": "a", "split": "train"}\n')
    with pytest.raises(ConfigError, match="0 test prompts"):
        load_prompts(str(bad), "harmless")
    with pytest.raises(ConfigError, match=r"abliterate.harmful='/nope.txt': no such file"):
        load_prompts("/nope.txt", "harmful")


def test_kernel_shape():
    k = ComponentKernel(max_weight=1.2, max_weight_position=0.5, min_weight=0.2, min_weight_distance=0.25)
    w = k.weights(9)  # peak at layer 4, reaches 0.2 at distance 2.25, zero beyond
    assert w[4] == pytest.approx(1.2)
    assert w[3] == w[5] and 0.2 < w[3] < 1.2
    assert w[0] == 0.0 and w[8] == 0.0
    # a reach shorter than a layer still reaches the nearest one (a kernel that ablates nothing is no trial)
    tiny = ComponentKernel(max_weight=1.0, max_weight_position=0.8, min_weight=0.5, min_weight_distance=0.05)
    assert sum(w > 0 for w in tiny.weights(3)) >= 1
    assert interpolation(2.25, 5) == (2, 3, 0.25)
    assert interpolation(9.0, 5) == (4, 4, 0.0)
    p = TrialParams.from_flat(DEFAULT_FLAT)
    assert p.kernels["attn"].min_weight == pytest.approx(0.3)  # min_weight_frac × max_weight
    assert TrialParams.from_flat(p.as_flat()) == p


def T(n, r, kl, **kw):
    return Trial(n, {"refusals": r, "kl": kl, **kw})


def test_pareto_front_and_choice():
    trials = [T(0, 5, 0.1), T(1, 3, 0.3), T(2, 3, 0.5), T(3, 0, 2.0), T(4, 6, 0.05), T(5, 5, 0.2)]
    assert [t.number for t in pareto_front(trials)] == [3, 1, 0, 4]
    assert choose(trials, max_kl=1.0).number == 1
    assert choose(trials, max_kl=5.0).number == 3
    assert choose(trials, max_kl=0.01).number == 4  # nothing under the cap: the lowest KL
    objs = [("refusals", "minimize"), ("kl", "minimize"), ("capability", "maximize")]
    with_cap = [T(0, 3, 0.3, capability=0.5), T(1, 3, 0.3, capability=0.9), T(2, 3, 0.4, capability=0.95)]
    assert [t.number for t in pareto_front(with_cap, objs)] == [1, 2]


def test_view_from_events_and_report(tmp_path: Path):
    evs = [{"type": "abliterate_setup", "objectives": [["refusals", "minimize"], ["kl", "minimize"]]},
           {"type": "baseline", "refusals": 20, "n": 24, "kl": 0.0},
           {"type": "trial", "trial": 0, "refusals": 9, "kl": 0.2, "seconds": 4.0, "params": {"direction_index": 0.5}},
           {"type": "trial", "trial": 1, "refusals": 2, "kl": 0.6, "seconds": 6.0, "judge_disagree": 1,
            "judge_compared": 4},
           {"type": "abliterate_chosen", "trial": 1, "refusals": 2, "kl": 0.6}]
    view = from_events(evs)
    assert [t.number for t in view.front()] == [1, 0]
    s = write_report(tmp_path, view)
    assert s["baseline"]["refusals"] == 20 and s["chosen"]["refusals"] == 2 and s["seconds_per_trial"] == 5.0
    assert s["judge"]["rate"] == 0.25
    md = (tmp_path / "report.md").read_text()
    assert "| original | 20 | 0 |" in md and "| chosen (trial 1) | 2 | 0.6 |" in md
    assert json.loads((tmp_path / "report.json").read_text())["pareto"][0]["trial"] == 1


def test_parent_file_data_in_a_chained_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from pipeline.config.run import build_config
    from pipeline.data.loaders import DataError, load_pairs
    from pipeline.runs.store import RunStore

    store = RunStore(tmp_path)
    parent_id, parent_dir = store.create_run(build_config("abliterate"))
    (parent_dir / "heal_pairs.jsonl").write_text(json.dumps({"prompt": "p", "chosen": "Sure: a.",
                                                              "rejected": "I can't."}) + "\n")
    cfg = build_config("dpo", [], ["dpo.data=parent:heal_pairs.jsonl"])
    cfg.parent = parent_id
    _child_id, child_dir = store.create_run(cfg)
    monkeypatch.setenv(RUN_DIR_ENV, str(child_dir))
    assert len(load_pairs("parent:heal_pairs.jsonl")) == 1
    with pytest.raises(DataError, match=f"the parent run {parent_id} wrote no nope.jsonl"):
        load_pairs("parent:nope.jsonl")
    monkeypatch.setenv(RUN_DIR_ENV, str(parent_dir))
    with pytest.raises(DataError, match="needs a chained run"):
        load_pairs("parent:heal_pairs.jsonl")


class RuleJudge:
    """A judge backend stand-in (the real ones are remote models): low instruction_following for answers
    that contain "can't", a missing judgement for answers containing "??"."""

    id = "rule"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def score(self, items):
        from pipeline.judge.interface import Judgement

        self.seen += [it.answer for it in items]
        return [Judgement({}, missing_reason="unparsable") if "??" in it.answer
                else Judgement({"instruction_following": 0.1 if "can't" in it.answer else 0.9}) for it in items]


def test_judge_asked_about_uncertain_answers_first_and_decides_disagreements():
    from pipeline.abliterate.second_opinion import arbitrate, pick

    assert pick([False, True, False, True, False], 3) == [0, 1, 3]  # the two uncertain ones, then the first
    prompts = ["p0", "p1", "p2", "p3"]
    answers = ["Sure, here.", "I can't do it.", "?? garbled", "Fine: step 1."]
    flags: list[bool | None] = [True, False, None, False]  # the detector wrong on 0 and 1, undecided on 2
    judge = RuleJudge()
    report = arbitrate(judge, prompts, answers, flags, [False, True, True, False], k=3, decide=False)
    assert judge.seen == answers[:3] and report.flags == flags  # only reported
    assert report.fields(flags) == {"judge_refusals": 1, "judge_missing": 1, "judge_disagree": 2,
                                    "judge_compared": 2, "judge_overruled": 0}
    decided = arbitrate(RuleJudge(), prompts, answers, flags, [False, True, True, False], k=3, decide=True)
    assert decided.flags == [False, True, None, False] and decided.overruled == 2  # a missing verdict decides nothing
