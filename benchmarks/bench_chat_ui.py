"""The A/B chat's UI cost while both sides stream: CPU of the UI process (what it takes from the models'
cores on a small machine).

The chat's two SidePanels (aba_tui.screens.chat_panel) run headless at 160×48 on a conversation of
``--turns`` earlier turns of ``--chars`` characters each; both sides' answers grow at ``--rate`` tokens/s
(4 characters a token) and are folded in at 20 Hz, as ChatScreen's timer does. Baseline, in the same
run and alternated with ours: the same app with each side a bare Static showing only the growing answer
(no transcript, no scrolling): the floor of drawing streamed text in Textual. Each in a fresh
interpreter. Prints % of a core and CPU per frame, writes benchmarks/results/chat-ui.json and .md;
asserts nothing.

    .venv/bin/python benchmarks/bench_chat_ui.py [--seconds 10] [--reps 3] [--turns 12] [--chars 3000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # benchmarks.record

CODE = """
import json, sys, time
import textual._compositor as compositor
from textual.app import App
from textual.containers import Horizontal
from textual.widgets import Static
from aba_tui.screens.chat_panel import SidePanel
from pipeline.chat.session import Conversation
mode, seconds, turns, chars = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rate = float(sys.argv[5])
WORDS = "the keeper climbed the stairs as the storm rolled in over the grey water and the lamp "
conv = Conversation()
for i in range(turns):
    t = conv.ask(f"question {i} about the lighthouse?")
    for s in "ab":
        t.answers[s] = (WORDS * (chars // len(WORDS) + 1))[:chars]
conv.ask("and then?")
frames = [0]
render = compositor.Compositor.render_update
def counted(self, *a, **k):
    frames[0] += 1
    return render(self, *a, **k)
compositor.Compositor.render_update = counted
class Bench(App):
    def compose(self):
        with Horizontal():
            for c in "ab":
                yield SidePanel(c.upper(), c, id=f"p{c}") if mode == "ours" else Static("", id=f"p{c}")
    def on_mount(self):
        self.sides = [self.query_one(f"#p{c}") for c in "ab"]
        for p in self.sides:
            if mode == "ours":
                p.streaming = True
        self.t0, self.c0, self.f0 = time.monotonic(), time.process_time(), frames[0]
        self.set_interval(0.05, self.flush)
        self.set_timer(seconds, self.done)
    def flush(self):
        live = (WORDS * 400)[: int((time.monotonic() - self.t0) * rate) * 4]
        for p in self.sides:
            if mode == "ours":
                p.render_conversation(conv, "A/B", live=live)
            else:
                p.update(live)
    def done(self):
        cpu, wall, n = time.process_time() - self.c0, time.monotonic() - self.t0, frames[0] - self.f0
        print(json.dumps({"core_pct": 100 * cpu / wall, "frames": n, "cpu_ms_per_frame": 1000 * cpu / max(1, n)}))
        self.exit()
Bench().run(headless=True, size=(160, 48))
"""


def run(mode: str, args: argparse.Namespace) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run([sys.executable, "-c", CODE, mode, str(args.seconds), str(args.turns), str(args.chars),
                          str(args.rate)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--turns", type=int, default=12)
    ap.add_argument("--chars", type=int, default=3000)
    ap.add_argument("--rate", type=float, default=28.0, help="tokens/s of each side")
    args = ap.parse_args()
    from benchmarks.record import Check, Record

    rec = Record("chat-ui", "The A/B chat's UI cost while both sides stream", reps=args.reps)
    res: dict[str, list[dict[str, float]]] = {"ours": [], "bare Static": []}
    run("bare", args)  # warm-up: bytecode and page cache
    for _ in range(args.reps):
        res["ours"].append(run("ours", args))
        res["bare Static"].append(run("bare", args))
        print(f"ours {res['ours'][-1]}   bare {res['bare Static'][-1]}", flush=True)

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in res[name])

    what = (f"{args.turns} earlier turns of {args.chars} characters, both sides streaming at {args.rate:g} tok/s, "
            "folded in at 20 Hz, headless 160×48")
    rec.finish([
        Check(f"% of a core, median of {args.reps}", med("ours", "core_pct"), med("bare Static", "core_pct"),
              "% of a core", "a bare Static per side showing only the answer", note=what),
        Check("CPU per frame, median", med("ours", "cpu_ms_per_frame"), med("bare Static", "cpu_ms_per_frame"), "ms",
              "a bare Static per side showing only the answer"),
    ], figures={"runs": res, "seconds": args.seconds, "turns": args.turns, "chars": args.chars, "rate": args.rate})


if __name__ == "__main__":
    main()
