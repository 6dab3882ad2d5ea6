"""Model clients behind one call: ``await client.complete(system, messages, shape, ...) -> Reply``.

Gemini (pipeline.judge.gemini), any OpenAI-compatible server over the stdlib, and a local GGUF
through llama-cpp-python. Heavy imports happen inside the constructors, so this module stays light.
Credentials come from the environment only and are never stored or logged. A reply the token cap cut
(``length``) is marked truncated on every backend: it is never complete data.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any, Protocol

from pipeline.errors import ConfigError
from pipeline.judge.calls import Reply
from pipeline.judge.failures import CallError, http_error
from pipeline.judge.gemini import BLOCK_FINISH, GeminiClient, Messages, env_key, transport_error
from pipeline.judge.pacing import Gate, gate_for
from pipeline.judge.shaping import Shape
from pipeline.redact import register_env
from pipeline.runs.cpu import usable_cores


class Client(Protocol):
    backend: str
    model: str
    gate: Gate  # the shared pause of this endpoint and model

    async def complete(self, system: str, messages: Messages, shape: Shape, *, schema: dict[str, Any] | None = None,
                       grammar: str = "", stream: bool = False) -> Reply: ...


class OpenAIClient:
    """Any server speaking OpenAI's /chat/completions (llama-server, vLLM, LM Studio)."""

    backend = "openai"

    def __init__(self, cfg: Any, prefix: str) -> None:
        if not cfg.base_url:
            raise ConfigError(f"{prefix}.base_url is empty: backend=openai needs the server URL, "
                              "e.g. http://127.0.0.1:8080/v1")
        self.model = cfg.model or "default"
        self.url = cfg.base_url.rstrip("/") + "/chat/completions"
        self.timeout = cfg.timeout
        self._key_env = cfg.api_key_env or "OPENAI_API_KEY"
        register_env(self._key_env)  # its value is masked in every error and item written
        self.gate = gate_for("openai", self.url, self.model)

    def _post(self, body: dict[str, Any]) -> tuple[int, str, str | None]:
        """One POST with the stdlib (no extra dependency); runs in a worker thread."""
        import urllib.error
        import urllib.request

        headers = {"Content-Type": "application/json"}
        key = env_key((self._key_env,))
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, resp.read().decode("utf-8", "replace"), None
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace"), exc.headers.get("retry-after")

    async def complete(self, system: str, messages: Messages, shape: Shape, *, schema: dict[str, Any] | None = None,
                       grammar: str = "", stream: bool = False) -> Reply:
        msgs = ([{"role": "system", "content": system}] if system else []) + [dict(m) for m in messages]
        body: dict[str, Any] = {"model": self.model, "messages": msgs, "max_tokens": shape.max_output_tokens}
        if shape.temperature is not None:
            body["temperature"] = shape.temperature
        if schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "reply", "schema": schema, "strict": True}}
        try:
            status, text, retry_after = await asyncio.to_thread(self._post, body)
        except Exception as exc:  # URLError, socket timeout, connection refused
            reason = getattr(exc, "reason", None)
            raise transport_error(reason if isinstance(reason, Exception) else exc) from None
        if status != 200:
            try:
                err_body: object = json.loads(text)
            except ValueError:
                err_body = None
            raise http_error(status, text[:300], body=err_body, retry_after=retry_after)
        try:
            data = json.loads(text)
            choice = data["choices"][0]
            message = choice["message"]
            text = message.get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise transport_error(ValueError(f"not a chat completion: {exc}")) from None
        u = data.get("usage") or {}
        usage = {"input": int(u.get("prompt_tokens") or 0), "output": int(u.get("completion_tokens") or 0),
                 "thinking": int((u.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)}
        thoughts = str(message.get("reasoning_content") or "")  # llama-server / vLLM reasoning parsers
        return _finish_reply(text, str(choice.get("finish_reason") or "stop"), usage, thoughts)


def _finish_reply(text: str, finish: str, usage: dict[str, int], thoughts: str = "") -> Reply:
    """OpenAI-style finish reasons: ``length`` is a cut reply (empty: the cap went to reasoning)."""
    if finish in BLOCK_FINISH:
        raise CallError("blocked", f"candidate blocked (finish_reason={finish})", usage=usage, category=finish)
    if not text.strip():
        if finish == "length":
            raise CallError("empty_thinking", f"no answer within the token cap (finish_reason=length, "
                            f"reasoning {usage.get('thinking', 0)} tokens)", usage=usage)
        raise CallError("empty", f"empty reply (finish_reason={finish})", usage=usage)
    return Reply(text, finish, usage, thoughts, truncated=finish == "length")


class LocalClient:
    """A GGUF through llama-cpp-python; one model, calls serialised (llama.cpp is not re-entrant)."""

    backend = "local"

    def __init__(self, cfg: Any, prefix: str, seed: int = 0) -> None:
        from pipeline.models.embedded import embedded_gguf_path

        path = Path(cfg.model).expanduser() if cfg.model else embedded_gguf_path()
        if path is None or not path.is_file():
            raise ConfigError(f"{prefix}.model={cfg.model!r}: no such GGUF file (expected a .gguf path; empty "
                              "uses the embedded model, which is not installed here)")
        self.path = path
        self.model = path.name
        self.n_ctx = int(getattr(cfg, "n_ctx", 2048))
        # Half the cores, at most 4: llama.cpp's threads spin at barriers, and on a busy 2-core box two
        # threads were measured 6× slower than one (benchmarks/ and docs/judge.md).
        self.threads = int(getattr(cfg, "threads", 0)) or max(1, min(4, usable_cores() // 2))
        self.seed = seed
        self.gate = gate_for("local", str(path))
        self._llm: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._llm is None:
            from llama_cpp import Llama

            self._llm = Llama(model_path=str(self.path), n_ctx=self.n_ctx, seed=self.seed,
                              n_threads=self.threads, verbose=False)
        return self._llm

    def _run(self, msgs: list[dict[str, str]], grammar: str, schema: dict[str, Any] | None, shape: Shape) -> Reply:
        with self._lock:
            llm = self._load()
            kw: dict[str, Any] = {}
            if grammar or schema is not None:
                from llama_cpp import LlamaGrammar

                kw["grammar"] = (LlamaGrammar.from_string(grammar, verbose=False) if grammar
                                 else LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False))
            out = llm.create_chat_completion(messages=msgs, temperature=shape.temperature or 0.0,
                                             max_tokens=shape.max_output_tokens, **kw)
        choice = out["choices"][0]
        u = out.get("usage") or {}
        usage = {"input": int(u.get("prompt_tokens") or 0), "output": int(u.get("completion_tokens") or 0)}
        return _finish_reply(choice["message"].get("content") or "", str(choice.get("finish_reason") or "stop"), usage)

    async def complete(self, system: str, messages: Messages, shape: Shape, *, schema: dict[str, Any] | None = None,
                       grammar: str = "", stream: bool = False) -> Reply:
        msgs = ([{"role": "system", "content": system}] if system else []) + [dict(m) for m in messages]
        try:
            return await asyncio.to_thread(self._run, msgs, grammar, schema, shape)
        except CallError:
            raise
        except ValueError as exc:  # e.g. the prompt does not fit n_ctx
            raise CallError("client_error", f"local model: {str(exc)[:200]}") from None


def make_client(cfg: Any, prefix: str = "judge", seed: int = 0) -> Client:
    """A client for ``cfg.backend`` (any section with backend/model/base_url/api_key_env/… fields)."""
    if cfg.backend == "gemini":
        return GeminiClient(cfg, prefix)
    if cfg.backend == "openai":
        return OpenAIClient(cfg, prefix)
    if cfg.backend == "local":
        return LocalClient(cfg, prefix, seed=seed)
    raise ConfigError(f"{prefix}.backend={cfg.backend!r}: expected one of local, gemini, openai")
