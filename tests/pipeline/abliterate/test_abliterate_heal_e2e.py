"""The heal chain through the real supervisor: abliterate → dpo (on its heal pairs) → abliterate_eval,
on a tiny random Llama carrying the embedded tokenizer; the heal report's before/after fields."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pipeline.config.run import build_config
from pipeline.runs.launcher import launch, wait_for
from pipeline.runs.status import TERMINAL, read_status
from pipeline.runs.store import RunStore
from tests.pipeline.abliterate.test_abliterate_e2e import tiny_model  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow
ENDED = set(TERMINAL) | {"lost"}


def children(store: RunStore, parent: str) -> list[str]:
    out = []
    for info in store.list_runs():
        toml = (info.path / "run.toml").read_text()
        if f'parent = "{parent}"' in toml:
            out.append(info.run_id)
    return out


def test_heal_chain_reports_before_and_after(tmp_path: Path, tiny_model: Path):  # noqa: F811
    store = RunStore(tmp_path / "runs")
    sets = [f"model.source={tiny_model}", "abliterate.trials=2", "abliterate.startup_trials=2",
            "abliterate.train_limit=8", "abliterate.test_limit=6", "abliterate.max_new_tokens=4",
            "abliterate.heal_pairs=6", "abliterate.heal_tokens=6", "abliterate.gguf_eval=false",
            "abliterate.max_kl=100"]
    small_dpo = tmp_path / "small-dpo.toml"  # --set reaches only the first stage; a file reaches the chain
    small_dpo.write_text("[dpo]\nmax_steps = 2\nmax_length = 64\n")
    preset = Path(__file__).resolve().parents[3] / "pipeline" / "presets" / "abliterate-heal.toml"
    cfg = build_config(None, [preset, small_dpo], sets)
    first, first_dir = launch(store, cfg)
    assert wait_for(store, first, ENDED, timeout=600) == "succeeded", (first_dir / "stderr.log").read_text()[-3000:]
    # the chain starts its children when each parent succeeds: find the eval run two levels down
    end = time.time() + 900
    chain: list[str] = [first]
    while len(chain) < 3 and time.time() < end:
        kids = children(store, chain[-1])
        if kids and read_status(store.path(kids[0])).state in ENDED:
            chain.append(kids[0])
        time.sleep(0.5)
    assert len(chain) == 3, f"chain stopped at {chain}"
    for rid in chain[1:]:
        assert read_status(store.path(rid)).state == "succeeded", (store.path(rid) / "stderr.log").read_text()[-3000:]
    report = json.loads((store.path(chain[2]) / "heal_report.json").read_text())
    assert report["abliterate_run"] == first
    assert set(report["models"]) == {"original", "abliterated", "healed"}
    orig, abl, healed = (report["models"][k] for k in ("original", "abliterated", "healed"))
    assert orig["kl"] == pytest.approx(0.0, abs=1e-6) and orig["n"] == 6
    for m in (abl, healed):
        assert 0 <= m["refusals"] <= m["n"] == 6 and m["kl"] >= 0 and 0 <= m["capability"] <= 1
        assert m["capability_n"] == 16 and m["capability_ci95"][0] <= m["capability"] <= m["capability_ci95"][1]
    assert abl["kl"] > 0 and healed["kl"] > 0 and healed["kl"] != abl["kl"]  # ablation and DPO both changed it
    assert report["heal"]["kl"] == pytest.approx(healed["kl"] - abl["kl"], rel=1e-4)
    assert abl["model"] == str(store.path(first) / "checkpoints" / "final") and chain[1] in healed["model"]
    md = (store.path(chain[2]) / "heal_report.md").read_text()
    assert md.index("| original |") < md.index("| abliterated |") < md.index("| healed |")
