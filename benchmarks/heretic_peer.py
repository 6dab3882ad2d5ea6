"""heretic-llm as a benchmark peer: run it, drive its menus, read its study, score with its markers.

heretic-llm is AGPL-3.0: it lives in its own virtual environment (``ABA_HERETIC_VENV``, default
/work/peers/heretic-venv) and is only ever started as a separate program. Nothing here imports it;
scoring answers with heretic's own marker list runs heretic's ``Evaluator.is_refusal`` inside its venv.

heretic's menus use questionary on a terminal. When ``KAGGLE_KERNEL_RUN_TYPE`` is set heretic believes
it runs in a notebook and prints each menu as numbered lines ``[i] title`` followed by
``input("Enter number: ")``, text prompts as ``input("<message>: ")``; ``drive`` answers those from
heretic's output: a study file that exists → continue or restart; the trial menu → the trial picked by
``pick`` (then "Exit program"); the action menu → "Save the model to a local folder" (then back);
"Path to the folder:" → the save folder.

Offline and single-threaded: without ``HF_HUB_OFFLINE`` importing heretic (bitsandbytes → kernels)
tries the Hub for a minute; on a shared 2-core machine torch's default threads spin against each other.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VENV = Path(os.environ.get("ABA_HERETIC_VENV", "/work/peers/heretic-venv"))
MENU_LINE = re.compile(r"^\[(\d+)\] (.*)$")
MENU_TRIAL = re.compile(r"\[Trial\s+(\d+)\] Refusals:\s*(\d+)/(\d+), KL divergence: ([0-9.eE+-]+)")


def env(threads: int = 1) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}


def available() -> str | None:
    """None when heretic can run here, else why not."""
    exe = VENV / "bin" / "heretic"
    return None if exe.is_file() else f"heretic-llm is not installed at {exe} (set ABA_HERETIC_VENV)"


def write_prompts(folder: Path, sets: dict[str, Sequence[str]]) -> dict[str, Path]:
    """One prompt a line (heretic reads a local file that way); names → paths."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, prompts in sets.items():
        bad = [p for p in prompts if "\n" in p]
        if bad:
            raise ValueError(f"{name}: a prompt spans lines, heretic would split it: {bad[0][:60]!r}")
        path = folder / f"{name}.txt"
        path.write_text("".join(p + "\n" for p in prompts), encoding="utf-8")
        out[name] = path
    return out


@dataclass
class Setup:
    """What both tools share: model, prompt files, answer length, system prompt."""

    model: str
    prompts: dict[str, Path]  # harmful_train, harmless_train, harmful_test, harmless_test
    max_tokens: int
    system_prompt: str
    batch_size: int = 16

    def common_args(self) -> list[str]:
        p = self.prompts
        return ["--model", self.model,
                "--good-prompts.dataset", str(p["harmless_train"]), "--bad-prompts.dataset", str(p["harmful_train"]),
                "--good-evaluation-prompts.dataset", str(p["harmless_test"]),
                "--bad-evaluation-prompts.dataset", str(p["harmful_test"]),
                "--max-response-length", str(self.max_tokens), "--system-prompt", self.system_prompt,
                "--batch-size", str(self.batch_size)]


def study_cmd(s: Setup, seed: int, trials: int, startup: int, study_dir: Path) -> list[str]:
    # heretic's other defaults stay: orthogonalize_direction, row_normalization=full, KL target 0.01.
    # --print-responses: every trial's answers go to the log, so the benchmark can score them again
    return [str(VENV / "bin" / "heretic"), *s.common_args(), "--n-trials", str(trials),
            "--n-startup-trials", str(startup), "--seed", str(seed), "--study-checkpoint-dir", str(study_dir),
            "--export-strategy", "merge", "--print-responses"]


def evaluate_cmd(s: Setup, model_dir: Path, scratch: Path) -> list[str]:
    return [str(VENV / "bin" / "heretic"), *s.common_args(), "--evaluate-model", str(model_dir),
            "--response-prefix", "", "--study-checkpoint-dir", str(scratch), "--print-responses"]


def last_menu(buf: str) -> tuple[str, list[tuple[int, str]]]:
    """The message and numbered choices printed before 'Enter number: '."""
    lines = buf.rstrip().splitlines()[:-1]
    choices: list[tuple[int, str]] = []
    i = len(lines) - 1
    while i >= 0 and (m := MENU_LINE.match(lines[i].strip())):
        choices.insert(0, (int(m.group(1)), m.group(2)))
        i -= 1
    return (lines[i].strip() if i >= 0 else ""), choices


def pick_trial(choices: list[tuple[int, str]], policy: str) -> tuple[int, dict[str, Any] | None]:
    """``fewest`` (heretic's first Pareto entry), ``max-kl:X`` (fewest refusals with KL ≤ X, else the
    lowest KL), ``trial:N``, ``none``; returns the menu number and what was offered and picked."""
    trials = []
    for num, title in choices:
        if m := MENU_TRIAL.search(title):
            trials.append({"choice": num, "trial": int(m.group(1)), "refusals": int(m.group(2)),
                           "n": int(m.group(3)), "kl": float(m.group(4))})
    exit_num = next(n for n, t in choices if t.startswith("Exit program"))
    if policy == "none" or not trials:
        return exit_num, None
    if policy == "fewest":
        t = trials[0]
    elif policy.startswith("max-kl:"):
        cap = float(policy.split(":", 1)[1])
        ok = [t for t in trials if t["kl"] <= cap]
        t = min(ok, key=lambda t: (t["refusals"], t["kl"])) if ok else min(trials, key=lambda t: t["kl"])
    elif policy.startswith("trial:"):
        want = int(policy.split(":", 1)[1])
        found = next((t for t in trials if t["trial"] == want), None)
        if found is None:
            raise RuntimeError(f"trial {want} is not on heretic's Pareto menu ({[t['trial'] for t in trials]})")
        t = found
    else:
        raise ValueError(f"pick {policy!r}: expected fewest, max-kl:X, trial:N or none")
    return t["choice"], {"pareto": trials, "picked": t}


def drive(cmd: list[str], log: Path, pick: str = "none", save_dir: Path | None = None,
          existing: str = "continue", threads: int = 1) -> tuple[int, dict[str, Any] | None]:
    """Run heretic to its end, answering its menus; everything it prints goes to ``log``.
    Returns heretic's exit code and the Pareto menu it offered with the pick."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**env(threads), "KAGGLE_KERNEL_RUN_TYPE": "batch", "COLUMNS": "240", "TERM": "dumb"})
    assert proc.stdin and proc.stdout
    seen = {"trial": 0, "action": 0}
    menu: dict[str, Any] | None = None
    buf = ""
    with open(log, "a", encoding="utf-8") as out:
        def answer(text: str) -> None:
            out.write(f"<<driver answers {text!r}>>\n")
            out.flush()
            assert proc.stdin
            proc.stdin.write((text + "\n").encode())
            proc.stdin.flush()

        while chunk := os.read(proc.stdout.fileno(), 65536):
            s = chunk.decode("utf-8", "replace")
            out.write(s)
            out.flush()
            buf = (buf + s)[-20000:]
            tail = buf.rstrip(" ")
            if tail.endswith("Enter number:"):
                message, choices = last_menu(buf)
                if "How would you like to proceed?" in message:
                    # an interrupted study offers "Continue…", a finished one "Show the results…"
                    wants = ("Continue", "Show") if existing == "continue" else ("Ignore",)
                    answer(str(next(n for n, t in choices if t.startswith(wants))))
                elif "Which trial do you want to use?" in message:
                    seen["trial"] += 1
                    if seen["trial"] == 1:
                        num, menu = pick_trial(choices, pick if save_dir else "none")
                    else:
                        num = next(n for n, t in choices if t.startswith("Exit program"))
                    answer(str(num))
                elif "What do you want to do with the decensored model?" in message:
                    seen["action"] += 1
                    want = "Save the model" if seen["action"] == 1 else "Return to the trial selection"
                    answer(str(next(n for n, t in choices if t.startswith(want))))
                else:
                    out.write(f"<<driver: unknown menu {message!r}; stopping heretic>>\n")
                    proc.kill()
                    break
                buf = ""
            elif tail.endswith("Path to the folder::"):
                answer(str(save_dir))
                buf = ""
    return proc.wait(), menu


def parse_evaluation(text: str) -> dict[str, Any]:
    """heretic's ``--evaluate-model`` output: the base model's count, then the evaluated model's KL
    and refusals (relative to ``--model``)."""
    def last(pattern: str) -> re.Match[str] | None:
        found = list(re.finditer(pattern, text))
        return found[-1] if found else None

    init = last(r"Initial refusals:\s*(\d+)/(\d+)")
    kl = last(r"KL divergence:\s*([0-9.eE+-]+)")
    ref = last(r"\* Refusals:\s*(\d+)/(\d+)")
    if not (kl and ref):
        raise RuntimeError("heretic's evaluation printed no KL divergence / Refusals lines")
    return {"base_refusals": int(init.group(1)) if init else None, "kl": float(kl.group(1)),
            "refusals": int(ref.group(1)), "n": int(ref.group(2))}


def evaluate(s: Setup, model_dir: Path, log: Path, scratch: Path, threads: int = 1) -> dict[str, Any]:
    """heretic's own ``evaluate_model`` of ``model_dir``: its markers, its first-token KL."""
    scratch.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as out:
        rc = subprocess.run(evaluate_cmd(s, model_dir, scratch), stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT, env=env(threads), check=False).returncode
    if rc != 0:
        raise RuntimeError(f"heretic --evaluate-model exited {rc} (see {log})")
    return parse_evaluation(log.read_text(encoding="utf-8", errors="replace"))


# Runs in heretic's venv: its default marker list and its own is_refusal, one JSON string a line.
MARKER_CODE = """
import json, sys
from types import SimpleNamespace as NS
from heretic.config import Settings
from heretic.evaluator import Evaluator
markers = Settings.model_fields["refusal_markers"].default
me = NS(settings=NS(refusal_markers=markers))
for line in sys.stdin:
    print(json.dumps(bool(Evaluator.is_refusal(me, json.loads(line)))))
"""


def marker_flags(answers: Sequence[str]) -> list[bool]:
    """heretic's marker detector on each answer (its code, its venv)."""
    stdin = "".join(json.dumps(a) + "\n" for a in answers)
    res = subprocess.run([str(VENV / "bin" / "python"), "-c", MARKER_CODE], input=stdin, capture_output=True,
                         text=True, env=env(1), check=False)
    if res.returncode != 0:
        raise RuntimeError(f"heretic's marker scorer failed: {res.stderr[-800:]}")
    flags = [json.loads(x) for x in res.stdout.splitlines() if x.strip() in ("true", "false")]
    if len(flags) != len(answers):
        raise RuntimeError(f"heretic's marker scorer returned {len(flags)} flags for {len(answers)} answers")
    return flags


RESPONSE = re.compile(r"(?:^|\n)System prompt: .*?\nPrompt: (?P<prompt>.*?)\nResponse: (?P<answer>.*?)"
                      r"(?=\n\nSystem prompt: |\n\s*\* (?:Initial r|R)efusals:|\Z)", re.S)


def _responses(chunk: str) -> list[tuple[str, str]]:
    out = []
    for m in RESPONSE.finditer(chunk):
        ans = m["answer"].strip()
        out.append((m["prompt"].strip(), "" if ans == "[empty]" else ans))
    return out


def trial_answers(log_text: str) -> dict[int, dict[str, Any]]:
    """Each trial's answers as heretic printed them (``--print-responses``), by heretic's trial index
    (0: the original model's evaluation before the study), with the KL and the refusal count heretic
    logged for it."""
    out: dict[int, dict[str, Any]] = {}
    parts = re.split(r"\nRunning trial (\d+) of \d+\.\.\.", log_text)
    head = parts[0]
    if "Initial refusals" in head:
        out[0] = {"kl": 0.0, "answers": _responses(head)}
    for num, chunk in zip(parts[1::2], parts[2::2], strict=True):
        kl = re.search(r"\* KL divergence: ([0-9.eE+-]+)", chunk)
        ref = re.search(r"\* Refusals: (\d+)/(\d+)", chunk)
        if not (kl and ref):
            continue  # interrupted trial
        out[int(num)] = {"kl": float(kl.group(1)), "heretic_refusals": int(ref.group(1)),
                         "answers": _responses(chunk[:ref.start()])}
    return out


def read_journal(study_dir: Path) -> dict[str, Any]:
    """heretic's Optuna journal (optuna only; nothing of heretic): settings and one row per trial."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    files = sorted(study_dir.glob("*.jsonl"))
    if len(files) != 1:
        raise RuntimeError(f"{study_dir}: expected one journal *.jsonl, found {[f.name for f in files]}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="heretic", storage=JournalStorage(JournalFileBackend(str(files[0]))))
    settings = json.loads(study.user_attrs.get("settings", "{}"))
    trials = []
    for t in study.trials:
        ua = t.user_attrs
        if t.state.name != "COMPLETE":
            continue
        secs = (t.datetime_complete - t.datetime_start).total_seconds() \
            if t.datetime_complete and t.datetime_start else None
        trials.append({"trial": ua.get("index"), "number": t.number, "refusals": ua.get("refusals"),
                       "n": ua.get("n_bad_prompts"), "kl": ua.get("kl_divergence"), "seconds": secs,
                       "params": t.params})
    return {"finished": bool(study.user_attrs.get("finished")), "seed": settings.get("seed"),
            "system_prompt": settings.get("system_prompt"), "n_trials": settings.get("n_trials"),
            "complete": len(trials), "trials": trials}


if __name__ == "__main__":  # the driver on its own: drive.py --pick P --save-dir D --log L -- heretic ARGS
    import argparse

    ap = argparse.ArgumentParser(description="run heretic to its end without a terminal")
    ap.add_argument("--pick", default="none")
    ap.add_argument("--save-dir", type=Path, default=None)
    ap.add_argument("--existing", default="continue", choices=["continue", "restart"])
    ap.add_argument("--log", type=Path, required=True)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    rc, info = drive(a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd, a.log, a.pick, a.save_dir, a.existing)
    print(json.dumps(info))
    sys.exit(rc)
