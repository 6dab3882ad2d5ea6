"""Every file and folder name of a run folder, in one place (the contract in docs/run-folder.md).

Modules import these names; none spells a run-folder file as a string literal of its own.
"""

from __future__ import annotations

RUN_TOML = "run.toml"  # resolved config; relaunches the run alone
STATUS_FILE = "status.json"  # state, pids, exit code, reason (atomic writes)
EVENTS_FILE = "events.jsonl"  # append-only metrics and progress
STDOUT_LOG = "stdout.log"
STDERR_LOG = "stderr.log"
SUPERVISOR_LOG = "supervisor.log"
RESULT_FILE = "worker_result.json"  # a stage's deliberate end (failed/oom/stopped + reason)
STOP_FILE = "stop.json"  # optional {"grace_seconds": N} written by `aba stop --grace`
CHECKPOINTS_DIR = "checkpoints"
METADATA = "metadata.json"  # written last in a checkpoint: without it the checkpoint is incomplete
BEST, FINAL = "best", "final"  # the checkpoints a run names by role (`run:<id>` takes best, else final)
STAGING = ".trainer"  # HF's output_dir inside the run folder (hidden: not a checkpoint)
EXPORTS_DIR = "exports"
VOTES_FILE = "votes.jsonl"
ABLITERATE_DIR = "abliterate"  # an abliterate run's directions, study journal and report
DATA = "data"  # a datagen run's items, ledger and the training files it feeds (run:<id> as <stage>.data)
DATAGEN_OUTPUTS = {"sft": "sft.jsonl", "dpo": "dpo.jsonl", "grpo": "grpo.jsonl"}  # under DATA/
NOTIFY_LOG = "notify.log"  # what the supervisor's notifications did (never a URL token)
LOST_MARK = "notify.lost"  # created once (O_EXCL) by the first reader that announces a lost run

LOG_FILES = (STDOUT_LOG, STDERR_LOG, EVENTS_FILE, SUPERVISOR_LOG)
