"""A one-model OpenAI-compatible chat server: ``python -m pipeline.chat.serve --model X.gguf``.

One per A/B side (started by pipeline.chat.procs). It binds a loopback port (0 = the kernel picks,
so two sides never race for one), prints ``{"ready": true, "port": N}`` on stdout, and serves
``/v1/models``, ``/health`` and ``/v1/chat/completions`` (streaming SSE or whole) for the API key in
$ABA_CHAT_API_KEY. A client that disconnects stops its generation (the UI's "stop"). It is small and
stdlib-only around llama_cpp, so the per-token path is a dict, a json.dumps and one socket write.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SAMPLING_KEYS = ("temperature", "top_p", "top_k", "min_p", "max_tokens", "seed", "stop",
                 "presence_penalty", "frequency_penalty", "repeat_penalty")


# What a GGUF's general.file_type says, for files made elsewhere too (llama.h's llama_ftype).
FILE_TYPES: dict[int, str] = {0: "f32", 1: "f16", 2: "Q4_0", 3: "Q4_1", 7: "q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
                              11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
                              17: "Q5_K_M", 18: "Q6_K", 32: "bf16"}


def file_type_name(value: object) -> str | None:
    """The quantisation a GGUF's ``general.file_type`` names (None when absent or unknown)."""
    try:
        return FILE_TYPES.get(int(str(value)))
    except ValueError:
        return None


class ChatHandler(BaseHTTPRequestHandler):
    server: ChatServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: stderr is the crash log
        pass

    def _authorized(self) -> bool:
        key = self.server.api_key
        if not key:
            return True
        got = self.headers.get("Authorization", "")
        if hmac.compare_digest(got.encode(), f"Bearer {key}".encode()):
            return True
        self._json(401, {"error": {"message": "invalid API key", "type": "invalid_request_error"}})
        return False

    def _json(self, code: int, obj: Any) -> None:
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/health":
            self._json(200, {"status": "ok", "model": self.server.label})
            return
        if not self._authorized():
            return
        if self.path.rstrip("/") == "/v1/models":
            self._json(200, {"object": "list", "data": [
                {"id": self.server.label, "object": "model", "owned_by": "aba", "path": self.server.model_path}]})
            return
        self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        if not self._authorized():
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
            req = json.loads(self.rfile.read(length))
            messages = req["messages"]
            if not isinstance(messages, list) or not messages:
                raise ValueError("messages must be a non-empty list")
        except (ValueError, KeyError, TypeError) as exc:
            self._json(400, {"error": {"message": f"bad request: {exc}", "type": "invalid_request_error"}})
            return
        kwargs = {k: req[k] for k in SAMPLING_KEYS if req.get(k) is not None}
        with self.server.lock:  # one generation at a time: a llama context is not thread-safe
            # A follow-up turn reuses the evaluated conversation so far (llama-cpp keeps the KV cache
            # and matches the longest token prefix), so turn 5 starts about as fast as turn 1. A first
            # turn is evaluated from scratch: a reused prefix is batched differently, which can flip a
            # near-tie and make the same greedy single prompt (a battery item) answer differently the
            # second time. "cache_prompt" (llama.cpp server's name) overrides either way.
            llm = self.server.llm
            users = sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "user")
            if not req.get("cache_prompt", users > 1):
                llm.reset()
            cached_before = [int(t) for t in llm.input_ids[: llm.n_tokens]]
            if req.get("stream"):
                self._stream(messages, kwargs, bool((req.get("stream_options") or {}).get("include_usage")),
                             cached_before)
            else:
                self._whole(messages, kwargs)

    def _whole(self, messages: list[dict[str, Any]], kwargs: dict[str, Any]) -> None:
        out = self.server.llm.create_chat_completion(messages=messages, stream=False, **kwargs)
        out["model"] = self.server.label
        self._json(200, out)

    def _stream(self, messages: list[dict[str, Any]], kwargs: dict[str, Any], usage: bool,
                cached_before: list[int]) -> None:
        llm = self.server.llm
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        text: list[str] = []
        with _prompt_of(llm) as prompt:
            gen = llm.create_chat_completion(messages=messages, stream=True, **kwargs)
        try:
            for chunk in gen:
                chunk["id"], chunk["model"] = cid, self.server.label
                for choice in chunk.get("choices", []):
                    piece = choice.get("delta", {}).get("content")
                    if piece:
                        text.append(piece)
                self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                self.wfile.flush()
            if usage:
                # The answer's tokens are counted by re-tokenising it: exact for ordinary text, and free
                # of a per-token hook that would slow the decode loop. The prompt's are the ones the
                # chat template produced, as a whole (non-streamed) completion reports them.
                n = len(llm.tokenize("".join(text).encode("utf-8"), add_bos=False, special=True))
                tail = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                        "model": self.server.label, "choices": [],
                        "usage": {"completion_tokens": n, "prompt_tokens": len(prompt),
                                  "total_tokens": len(prompt) + n,
                                  "prompt_tokens_details": {"cached_tokens": _common_prefix(
                                      cached_before, llm.input_ids[: llm.n_tokens])}}}
                self.wfile.write(b"data: " + json.dumps(tail).encode() + b"\n\n")
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped the answer: stop generating
        finally:
            gen.close()


@contextlib.contextmanager
def _prompt_of(llm: Any) -> Iterator[list[int]]:
    """The token ids of the prompt a chat completion started inside the block evaluates: llama-cpp-python's
    chat handler applies the template and hands them to ``create_completion`` before it returns (the
    stream itself is lazy), so a wrapper on this instance sees them. Generation is serialised by the
    server's lock, so the wrapper never sees another request's prompt."""
    seen: list[int] = []
    real = llm.create_completion

    def capture(*args: Any, **kwargs: Any) -> Any:
        prompt = kwargs.get("prompt", args[0] if args else [])
        seen[:] = prompt if isinstance(prompt, list) else llm.tokenize(
            prompt.encode("utf-8") if isinstance(prompt, str) else prompt, special=True)
        return real(*args, **kwargs)

    llm.create_completion = capture
    try:
        yield seen
    finally:
        del llm.create_completion  # the instance attribute: the class's method shows through again


def _common_prefix(before: list[int], after: Any) -> int:
    """Tokens of the new prompt that were already in the model's cache (OpenAI's cached_tokens)."""
    n = 0
    for a, b in zip(before, after, strict=False):
        if a != int(b):
            break
        n += 1
    return n


class ChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr: tuple[str, int], llm: Any, label: str, model_path: str, api_key: str) -> None:
        super().__init__(addr, ChatHandler)
        self.llm, self.label, self.model_path, self.api_key = llm, label, model_path, api_key
        self.lock = threading.Lock()


def _watch_parent(server: ChatServer) -> None:
    """Leave with the UI: when the process that started us is gone we are re-parented, so stop
    rather than hold a model in memory for nobody."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1.0)
    server.shutdown()


def load_model(path: Path, n_ctx: int, threads: int | None) -> Any:
    from llama_cpp import Llama

    # The prompt gets the same threads as decoding: llama-cpp-python's default (every CPU) makes the
    # two A/B sides' prompt evaluations fight over the cores.
    return Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.chat.serve")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--label", default="")
    args = parser.parse_args(argv)

    def say(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    try:
        from pipeline.chat.procs import check_gguf

        path = check_gguf(args.model)
        llm = load_model(path, args.n_ctx, args.threads)
    except Exception as exc:
        say({"error": f"{args.model}: cannot load the model ({exc})"})
        return 2
    label = args.label or path.stem
    try:
        server = ChatServer((args.host, args.port), llm, label, str(path), os.environ.get("ABA_CHAT_API_KEY", ""))
    except OSError as exc:  # the port is taken, or not ours to bind
        say({"error": f"{args.host}:{args.port}: cannot listen there ({exc.strerror or exc}): pick another --port"})
        return 2
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    threading.Thread(target=_watch_parent, args=(server,), daemon=True).start()
    quant = file_type_name(getattr(llm, "metadata", {}).get("general.file_type"))
    say({"ready": True, "port": server.server_address[1], "model": label, "pid": os.getpid(), "quant": quant})
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
