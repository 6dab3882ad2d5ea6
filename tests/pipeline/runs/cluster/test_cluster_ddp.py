"""Two CPU ranks (accelerate launch, gloo) on the embedded model: a stop ends both after the same
optimizer step, with one complete checkpoint, and the run `stopped` (no rank left hanging)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from pipeline.checkpoints.store import list_checkpoints
from pipeline.config.run import build_config
from pipeline.runs.launcher import launch, stop, wait_for
from pipeline.runs.status import TERMINAL
from pipeline.runs.store import RunStore

pytestmark = pytest.mark.slow
PAIRS = [
    {"prompt": "What is 2+2?", "chosen": "4.", "rejected": "Maybe 5."},
    {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "I am not sure."},
    {"prompt": "Is ice cold?", "chosen": "Yes.", "rejected": "As an AI, I cannot feel."},
    {"prompt": "Name a colour.", "chosen": "Blue.", "rejected": "Could you clarify?"},
]


def metric_steps(path: Path) -> list[int]:
    ev = path / "events.jsonl"
    if not ev.exists():
        return []
    rows = [json.loads(ln) for ln in ev.read_text().splitlines() if ln.strip()]
    return [r["step"] for r in rows if r.get("type") == "metrics"]


def leftovers(path: Path) -> list[int]:
    """Processes still running with this run folder on their command line (a rank left behind)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(path) in cmd and "pipeline.runs.worker" in cmd:
                pids.append(int(entry.name))
    return pids


def logs(path: Path) -> str:
    err = path / "stderr.log"
    return err.read_text()[-3000:] if err.exists() else ""


def test_two_rank_ddp_stop_ends_every_rank_after_the_same_step(store: RunStore, tmp_path: Path) -> None:
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(p) + "\n" for p in PAIRS))
    cfg = build_config("dpo", [], ["model.lora_r=4", "model.lora_alpha=8", "supervisor.gpus=2",
                                   "supervisor.grace_seconds=300", f"dpo.data={data}", "dpo.max_steps=400",
                                   "dpo.max_length=48", "dpo.warmup_steps=0", "dpo.checkpoint_every=0"])
    rid, path = launch(store, cfg)
    deadline = time.time() + 900
    while not any(s >= 1 for s in metric_steps(path)):
        state = wait_for(store, rid, set(TERMINAL) | {"lost"}, timeout=0)
        assert time.time() < deadline and state in ("queued", "running"), (state, logs(path))
        time.sleep(0.3)
    stop(store, rid)
    assert wait_for(store, rid, set(TERMINAL) | {"lost"}, timeout=600) == "stopped", \
        logs(path)
    out = (path / "stdout.log").read_text()
    stops = dict(re.findall(r"worker rank (\d+): stopping after optimizer step (\d+)", out))
    assert set(stops) == {"0", "1"} and len(set(stops.values())) == 1, out[-3000:]
    step = int(stops["0"])
    ckpts = [c for c in list_checkpoints(path) if c.name.startswith("checkpoint-")]
    assert len(ckpts) == 1 and ckpts[0].complete and ckpts[0].meta["resumable"] is True
    assert ckpts[0].step == step and ckpts[0].meta["kind"] == "stop"
    steps = metric_steps(path)
    assert steps == sorted(set(steps)) and max(steps) == step  # rank 0 alone logs, each step once
    gone_by = time.time() + 30
    while leftovers(path) and time.time() < gone_by:  # an exiting rank may linger a moment
        time.sleep(0.2)
    assert leftovers(path) == []  # no rank outlived the run
    # The two ranks trained as one world: each step took a sample from each of them.
    events = [json.loads(ln) for ln in (path / "events.jsonl").read_text().splitlines() if ln.strip()]
    assert [e["samples_per_step"] for e in events if e["type"] == "progress"] == [2]
