"""Re-analyse an eval run's stored answers with the current patterns: ``python -m pipeline.evaluate.rebuild RUN_DIR``.

No model is loaded: the probes and battery answers in ``eval/`` are read as they are, the judge and
tournament run again (cheap with the rubric judge), and the report is rewritten atomically. Used when
the stance patterns change (the report records ``patterns``), so old evals stay comparable.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.errors import AbaError
from pipeline.evaluate.runner import EvalRun, load_all, model_refs
from pipeline.runs.layout import EVAL_REPORT_MD
from pipeline.runs.store import load_run_config
from pipeline.runs.worker import StageContext


def rebuild(run_dir: Path) -> Path:
    cfg = load_run_config(run_dir)
    ctx = StageContext(run_dir, cfg)
    try:
        refs = model_refs(cfg.section("model").source, cfg.section("eval"), run_dir.parent)
        questions, battery = load_all(cfg.section("eval"))
        EvalRun(ctx).report(refs, questions, battery)
    finally:
        ctx.events.close()
    return run_dir / EVAL_REPORT_MD


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m pipeline.evaluate.rebuild RUN_DIR", file=sys.stderr)
        return 2
    try:
        print(rebuild(Path(args[0])))
    except AbaError as exc:
        print(f"rebuild: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
