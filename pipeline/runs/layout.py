"""Every file and folder name of a run folder, in one place (the contract in docs/run-folder.md).

Modules import these names; none spells a run-folder file as a string literal of its own
(tests/test_one_truth.py greps the code for one).
"""

from __future__ import annotations

# -- every run -----------------------------------------------------------------------------------------
RUN_TOML = "run.toml"  # resolved config; relaunches the run alone
STATUS_FILE = "status.json"  # state, pids, exit code, reason (atomic writes)
EVENTS_FILE = "events.jsonl"  # append-only metrics and progress
STDOUT_LOG = "stdout.log"
STDERR_LOG = "stderr.log"
SUPERVISOR_LOG = "supervisor.log"
RESULT_FILE = "worker_result.json"  # a stage's deliberate end (failed/oom/stopped + reason)
STOP_FILE = "stop.json"  # optional {"grace_seconds": N} written by `aba stop --grace`
NOTIFY_LOG = "notify.log"  # what the supervisor's notifications did (never a URL token)
LOST_MARK = "notify.lost"  # created once (O_EXCL) by the first reader that announces a lost run
LOCK_FILE = ".lock"  # flock'ed by `aba run`/`aba resume`, then by the supervisor and its worker while live
RESERVE_FILE = ".reserve"  # 1 MiB held while the run is live, released to record the end on a full disk
SLURM_JOB_SCRIPT = "slurm-job.sh"  # the batch script `aba run` / `aba resume` submitted
SLURM_JOB_OUTPUT = "slurm-%j.out"  # the batch step's own output, one file a job (%j: Slurm's job id)

NOTES_FILE = "notes.json"  # the operator's note and tags on the run (pipeline/runs/notes.py), written whole

LOG_FILES = (STDOUT_LOG, STDERR_LOG, EVENTS_FILE, SUPERVISOR_LOG)

# -- checkpoints ---------------------------------------------------------------------------------------
CHECKPOINTS_DIR = "checkpoints"
METADATA = "metadata.json"  # written last in a checkpoint: without it the checkpoint is incomplete
BEST, FINAL = "best", "final"  # the checkpoints a run names by role (`run:<id>` takes best, else final)
STAGING = ".trainer"  # HF's output_dir inside the run folder (hidden: not a checkpoint)
DELETING_PREFIX = ".deleting-"  # checkpoints/.deleting-<name>…: renamed aside, then removed
PROBES_DIR = "probes"  # the checkpoint browser's probe and collapse-scan results

# -- what a stage writes -------------------------------------------------------------------------------
EXPORTS_DIR = "exports"  # export: GGUFs, <name>.json each, and CONVERT_LOG
EXPORT_WORK_DIR = "work"  # export: the merged HF folder and the f16 intermediate, removed at the end
CONVERT_LOG = "convert.log"  # llama.cpp's converter's output (in exports/ or abliterate/)
CHAT_DIR = "chat"  # the A/B chat on a run's export: VOTES_FILE and DPO_PAIRS_FILE
VOTES_FILE = "votes.jsonl"
DPO_PAIRS_FILE = "dpo-pairs.jsonl"
JUDGE_CACHE = "judge-cache"  # the judge's content-keyed cache (datagen, GRPO, eval, abliterate)
DATA = "data"  # a datagen run's items, ledger and the training files it feeds (run:<id> as <stage>.data)
DATAGEN_ITEMS, DATAGEN_ERRORS, DATAGEN_EXPANDED = "items.jsonl", "errors.jsonl", "expanded.jsonl"  # under DATA/
DATAGEN_PROMPTS, DATAGEN_LEDGER, DATAGEN_MANIFEST = "prompts.jsonl", "ledger.json", "outputs.json"  # under DATA/
DATAGEN_OUTPUTS = {"sft": "sft.jsonl", "dpo": "dpo.jsonl", "grpo": "grpo.jsonl"}  # under DATA/
EVAL_DIR = "eval"  # the eval stage's append-only answers and verdicts:
EVAL_PROBES, EVAL_BATTERY, EVAL_TOURNAMENT = "probes.jsonl", "battery.jsonl", "tournament.jsonl"  # under EVAL_DIR/
EVAL_MODELS = "models.json"  # under EVAL_DIR/: what the eval learnt of each model (its template's thinking mode)
EVAL_REPORT_JSON, EVAL_REPORT_MD = "eval_report.json", "eval_report.md"  # the JSON is written last
BRANCHES_FILE = "branches.json"  # merge: the training branches it started
REPORT_DIR = "report"  # merge: COMPARISON_MD and COMPARISON_JSON
COMPARISON_JSON, COMPARISON_MD = "comparison.json", "comparison.md"  # merge (under REPORT_DIR/), abliterate cones
ABLITERATE_DIR = "abliterate"  # an abliterate run's directions, study journal and GGUFs
STUDY_JOURNAL = "study.journal"  # under ABLITERATE_DIR/ (or ABLITERATE_DIR/<arm>/): Optuna's append-only log
DIRECTIONS_PT, DIRECTIONS_JSON = "directions.pt", "directions.json"  # under ABLITERATE_DIR/ (or …/<arm>/)
ORIGINAL_GGUF, CHOSEN_GGUF = "original-f16.gguf", "chosen-f16.gguf"  # under ABLITERATE_DIR/, for A/B and checks
ABLITERATE_REPORT_JSON, ABLITERATE_REPORT_MD = "report.json", "report.md"
HEAL_PAIRS = "heal_pairs.jsonl"  # abliterate: pairs for a chained DPO heal (`dpo.data = parent:heal_pairs.jsonl`)
HEAL_REPORT_JSON, HEAL_REPORT_MD = "heal_report.json", "heal_report.md"  # abliterate_eval: before/after the heal
