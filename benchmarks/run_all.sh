#!/usr/bin/env bash
# The budgets of docs/tui.md and docs/training.md in one sitting, each script next to its own baseline,
# then the results index and docs/contributing.md's table regenerated from the files. Run it on a quiet
# machine (it says so when the load average is high; figures from a busy machine are no figures for docs).
# About 30 minutes on 2 cores (setup: a fresh venv, cache and llama-cpp-python build, about 4 of them). tui_idle_cpu and
# tui_latency run their default scenario: one live run of each stage the registry knows (issue #25).
#
#   bash benchmarks/run_all.sh [name ...]      e.g. bash benchmarks/run_all.sh tui_startup chat
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
load=$(cut -d' ' -f1 /proc/loadavg)
awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }' \
  && echo "[bench] load average $load on $(nproc) cores: not a quiet machine; figures will say so" >&2
all=(setup tui_startup tui_idle_cpu tui_idle_cpu_trainers tui_bigfile tui_latency tui_latency_fixture tui_memory chat
     chat_turns chat_ui datagen worker_threads dpo_overhead)
for name in "${@:-${all[@]}}"; do
  case "$name" in
    chat_turns) args=(benchmarks/bench_chat.py --only-turns) ;;
    tui_idle_cpu_trainers) args=(benchmarks/bench_tui_idle_cpu.py --scenario trainers) ;;  # #26: 4 trainers
    tui_latency_fixture) args=(benchmarks/bench_tui_latency.py --scenario fixture) ;;
    *) args=("benchmarks/bench_$name.py") ;;
  esac
  [ -f "${args[0]}" ] || { echo "[bench] no benchmark '$name' (known: ${all[*]})" >&2; exit 2; }
  echo "[bench] $name: ${args[*]}"
  "$PY" "${args[@]}"
done
"$PY" benchmarks/record.py
