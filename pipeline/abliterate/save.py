"""Save a trial as a checkpoint (full weights + tokenizer; metadata.json last), so export, the chained
DPO heal and the A/B chat load it like any checkpoint. Worker side; also a CLI to pick another trial
after the study: ``python -m pipeline.abliterate.save RUN_DIR TRIAL [--name NAME]``."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.checkpoints.store import write_metadata
from pipeline.errors import AbaError
from pipeline.runs.layout import (
    ABLITERATE_DIR,
    CHECKPOINTS_DIR,
    CONVERT_LOG,
    DIRECTIONS_JSON,
    DIRECTIONS_PT,
    ORIGINAL_GGUF,
)

if TYPE_CHECKING:
    from pipeline.abliterate.pareto import Trial


def save_checkpoint(ablator: Any, tokenizer: Any, dest: Path, meta: dict[str, Any]) -> Path:
    """Write the ablator's current trial into ``dest`` (built aside, then renamed; metadata last)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    try:
        with ablator.materialised() as model:
            model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_metadata(dest, {"stage": "abliterate", "adapter": False, "format": "full", "resumable": False, **meta})
    return dest


def trial_name(number: int) -> str:
    return f"trial-{number:04d}"


def load_for_trial(run_dir: Path, trial: Trial) -> tuple[Any, Any, dict[str, Any]]:
    """For the save CLI: the run's model and stored directions with ``trial`` applied."""
    from pipeline.abliterate import directions as dirs_mod
    from pipeline.abliterate.ablate import Ablator
    from pipeline.abliterate.engine import Engine
    from pipeline.abliterate.kernel import TrialParams
    from pipeline.models.resolve import resolve_model
    from pipeline.runs.store import load_run_config

    cfg_all = load_run_config(run_dir)
    cfg = cfg_all.section("abliterate")
    path = str(resolve_model(cfg_all.section("model").source))
    engine = Engine.load(path, cfg.batch_size, cfg.system_prompt)
    directions, mean = dirs_mod.load(run_dir / ABLITERATE_DIR / DIRECTIONS_PT)
    info = json.loads((run_dir / ABLITERATE_DIR / DIRECTIONS_JSON).read_text())
    ab = Ablator(engine.model, directions, cfg.variant, cfg.norm, tuple(cfg.components), cfg.scope,
                 harmless_mean=mean)
    ab.apply(TrialParams.from_flat(trial.params, tuple(cfg.components)))
    meta = {"trial": trial.number, "objectives": trial.values, "params": trial.params, "variant": cfg.variant,
            "norm": cfg.norm, "components": list(cfg.components), "scope": cfg.scope,
            "system_prompt": cfg.system_prompt,
            "directions": {"k": info.get("k"), "cones": cfg.cones, "orthogonalize": cfg.orthogonalize},
            "base_model": path,
            "model_source": cfg_all.section("model").source, "step": trial.number + 1}
    return ab, engine.tok, meta


def main(argv: list[str] | None = None) -> int:
    """Load the run's model and directions again, apply the trial's parameters, save it."""
    ap = argparse.ArgumentParser(prog="python -m pipeline.abliterate.save", description=__doc__)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("trial", type=int)
    ap.add_argument("--name", default="", help="checkpoint name (default trial-NNNN)")
    ap.add_argument("--gguf", action="store_true",
                    help="also convert the trial and the original model to GGUF f16 (for the A/B chat)")
    args = ap.parse_args(argv)
    from pipeline.abliterate.pareto import read_study

    view = read_study(args.run_dir)
    trial = next((t for t in view.trials if t.number == args.trial), None)
    if trial is None:
        print(f"{args.run_dir}: no finished trial {args.trial} (finished: "
              f"{', '.join(str(t.number) for t in view.trials) or 'none'})", file=sys.stderr)
        return 2
    try:
        ablator, tokenizer, meta = load_for_trial(args.run_dir, trial)
        dest = args.run_dir / CHECKPOINTS_DIR / (args.name or trial_name(trial.number))
        save_checkpoint(ablator, tokenizer, dest, meta)
        out: dict[str, Any] = {"checkpoint": str(dest), "trial": trial.number, **trial.values}
        if args.gguf:
            out.update(to_gguf(args.run_dir, dest, str(meta["base_model"])))
    except AbaError as exc:
        print(json.dumps({"error": str(exc)}))
        return 2
    print(json.dumps(out))
    return 0


def to_gguf(run_dir: Path, ckpt: Path, base_model: str) -> dict[str, str]:
    """The trial and the original model as f16 GGUFs in the run's abliterate/ folder (the original once)."""
    from pipeline.export.convert import convert_hf

    work = run_dir / ABLITERATE_DIR
    trial_gguf = work / f"{ckpt.name}-f16.gguf"
    original = work / ORIGINAL_GGUF
    if not original.is_file():
        convert_hf(Path(base_model), original, "f16", log_path=work / CONVERT_LOG)
    convert_hf(ckpt, trial_gguf, "f16", log_path=work / CONVERT_LOG)
    return {"gguf": str(trial_gguf), "original_gguf": str(original)}


if __name__ == "__main__":
    raise SystemExit(main())
