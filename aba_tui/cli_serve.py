"""`aba serve EXPORT`: one GGUF as an OpenAI-compatible server on loopback, behind an API key, for other
tools (an editor plugin, a notebook, Open WebUI). It is the A/B chat's own model server
(pipeline.chat.serve: ``/v1/models``, ``/v1/chat/completions`` streamed or whole; llama-cpp-python's
``[server]`` extra would add FastAPI, uvicorn and three more packages for the same two routes), run in
the foreground: ctrl+c stops it. The UI process never loads a model; the server is a child process."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
from pathlib import Path

from pipeline.errors import AbaError, ConfigError

KEY_ENV = "ABA_SERVE_API_KEY"


def resolve_gguf(ref: str, runs_dir: Path, quant: str | None = None) -> Path:
    """A .gguf path, or an export run (id, unique prefix/suffix, or folder) whose GGUF to serve."""
    path = Path(ref).expanduser()
    if path.suffix == ".gguf" or path.is_file():
        if not path.is_file():
            raise ConfigError(f"{path}: no such GGUF file")
        return path.resolve()
    from pipeline.export import normalize_quant, run_exports
    from pipeline.runs.store import RunStore

    info = RunStore(runs_dir).get(ref)
    exports = run_exports(info.path, info.run_id)
    if quant:
        want = normalize_quant(quant, "--quant")
        exports = [e for e in exports if e.meta.get("quant") == want]
    if not exports:
        raise ConfigError(f"{info.path}: no {quant + ' ' if quant else ''}export in this run "
                          "(expected an export run, or a path to a .gguf)")
    verified = [e for e in exports if e.verified] or exports
    if len(verified) > 1 and not quant:
        names = ", ".join(str(e.meta.get("quant")) for e in verified)
        raise ConfigError(f"{info.run_id} has {len(verified)} exports ({names}): pick one with --quant")
    return verified[0].gguf.resolve()


def cmd_serve(args: argparse.Namespace) -> int:
    from pipeline.chat.procs import ModelProcess
    from pipeline.config.paths import resolve_runs_dir

    gguf = resolve_gguf(args.export, Path(resolve_runs_dir(args.runs_dir)), args.quant)
    key = args.api_key or os.environ.get(KEY_ENV) or secrets.token_urlsafe(24)
    proc = ModelProcess(gguf, threads=args.threads, n_ctx=args.n_ctx, label=gguf.stem, port=args.port, api_key=key)
    print(f"loading {gguf} …", file=sys.stderr, flush=True)
    try:
        proc.start(timeout=600)
    except AbaError:
        proc.stop()
        raise
    base = f"http://127.0.0.1:{proc.port}/v1"
    print(f"serving {proc.label}{f' ({proc.quant})' if proc.quant else ''} at {base}")
    print(f"API key: {key}" + ("" if args.api_key or os.environ.get(KEY_ENV) else f"  (set --api-key or ${KEY_ENV} "
                                                                                   "to choose it)"))
    print(f"model name: {proc.label}")
    print(f"try: curl {base}/chat/completions -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' "
          f"-d '{{\"model\": \"{proc.label}\", \"messages\": [{{\"role\": \"user\", \"content\": \"Hi\"}}]}}'")
    print("ctrl+c stops it", flush=True)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True
        proc.stop()

    signal.signal(signal.SIGTERM, stop)
    try:
        assert proc.proc is not None
        proc.proc.wait()
    except KeyboardInterrupt:
        stop()
    died = None if stopping else proc.failure()
    proc.stop()
    if died:
        raise AbaError(died)
    return 0


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("serve", parents=[common], help="serve an export as an OpenAI-compatible API on loopback",
                       description="Serve one GGUF (a path, or an export run) at http://127.0.0.1:PORT/v1 "
                       "(/v1/models, /v1/chat/completions, streamed or whole) behind an API key, until ctrl+c.")
    s.add_argument("export", metavar="EXPORT", help="a .gguf file, or an export run (id, unique prefix/suffix, folder)")
    s.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080; 0: any free one)")
    s.add_argument("--api-key", default=None, metavar="KEY",
                   help=f"the key clients send as 'Authorization: Bearer KEY' (default: ${KEY_ENV}, else a random one, "
                   "printed)")
    s.add_argument("--quant", default=None, help="which export of a run that has several (f16, q8_0, Q6_K, Q4_K_M)")
    s.add_argument("--threads", type=int, default=None, help="CPU threads for llama.cpp (default: all)")
    s.add_argument("--n-ctx", type=int, default=4096, help="context length in tokens (default 4096)")
    s.set_defaults(func=cmd_serve)
