"""Model clients behind one call: ``await client.complete(system, messages, ...) -> Reply``.

Gemini through the official google-genai SDK (async client), any OpenAI-compatible server over httpx,
and a local GGUF through llama-cpp-python. Heavy imports happen inside the constructors, so this
module stays light. Credentials come from the environment only and are never stored or logged.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from pipeline.errors import ConfigError
from pipeline.judge.calls import CallError, Reply, http_error

BLOCK_FINISH = ("SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION", "IMAGE_SAFETY",
                "content_filter")
DEFAULT_GEMINI_MODEL = "gemini-2.5-flash"

Messages = Sequence[Mapping[str, str]]


class Client(Protocol):
    backend: str
    model: str

    async def complete(self, system: str, messages: Messages, *, schema: dict[str, Any] | None = None,
                       grammar: str = "", temperature: float = 0.0, max_tokens: int = 512,
                       thinking_budget: int | None = None, stream: bool = False) -> Reply: ...


def _env_key(names: tuple[str, ...]) -> str:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return ""


class GeminiClient:
    backend = "gemini"

    def __init__(self, cfg: Any, prefix: str) -> None:
        from google import genai
        from google.genai import types

        self._types = types
        self.model = cfg.model or DEFAULT_GEMINI_MODEL
        http = types.HttpOptions(base_url=cfg.base_url or None, timeout=int(cfg.timeout * 1000),
                                 # attempts=1: retries are ours (counted, Retry-After honoured)
                                 retry_options=types.HttpRetryOptions(attempts=1))
        if cfg.vertex_project:
            self._client = genai.Client(vertexai=True, project=cfg.vertex_project,
                                        location=cfg.vertex_location, http_options=http)
            return
        names = (cfg.api_key_env,) if cfg.api_key_env else ("GEMINI_API_KEY", "GOOGLE_API_KEY")
        key = _env_key(names)
        if not key:
            raise ConfigError(f"{prefix}.backend=gemini: no API key in the environment (set {' or '.join(names)}, "
                              f"or {prefix}.vertex_project for Vertex AI)")
        self._client = genai.Client(api_key=key, http_options=http)

    def _config(self, system: str, schema: dict[str, Any] | None, temperature: float, max_tokens: int,
                thinking_budget: int | None) -> Any:
        t = self._types
        kw: dict[str, Any] = {"system_instruction": system or None, "temperature": temperature,
                              "max_output_tokens": max_tokens}
        if schema is not None:
            kw.update(response_mime_type="application/json", response_json_schema=schema)
        if thinking_budget is not None:
            kw["thinking_config"] = t.ThinkingConfig(thinking_budget=thinking_budget)
        return t.GenerateContentConfig(**kw)

    def _contents(self, messages: Messages) -> tuple[str, list[Any]]:
        t = self._types
        extra_system = "\n".join(m["content"] for m in messages if m.get("role") == "system")
        contents = [t.Content(role="model" if m["role"] == "assistant" else "user",
                              parts=[t.Part(text=m["content"])]) for m in messages if m.get("role") != "system"]
        return extra_system, contents

    async def complete(self, system: str, messages: Messages, *, schema: dict[str, Any] | None = None,
                       grammar: str = "", temperature: float = 0.0, max_tokens: int = 512,
                       thinking_budget: int | None = None, stream: bool = False) -> Reply:
        from google.genai import errors

        extra, contents = self._contents(messages)
        config = self._config("\n\n".join(s for s in (system, extra) if s), schema, temperature, max_tokens,
                              thinking_budget)
        try:
            if stream:
                chunks = [c async for c in await self._client.aio.models.generate_content_stream(
                    model=self.model, contents=contents, config=config)]
            else:
                chunks = [await self._client.aio.models.generate_content(
                    model=self.model, contents=contents, config=config)]
        except errors.APIError as exc:
            headers = getattr(getattr(exc, "response", None), "headers", None) or {}
            raise http_error(int(exc.code or 0), str(exc.message or exc.status or "")[:200],
                             headers.get("retry-after")) from None
        except CallError:
            raise
        except Exception as exc:  # transport errors, timeouts, a body that is not JSON
            raise _transport_error(exc) from None
        return _gemini_reply(chunks)


def _transport_error(exc: Exception) -> CallError:
    name = type(exc).__name__
    if "Timeout" in name or isinstance(exc, asyncio.TimeoutError):
        return CallError("timeout", f"request timed out ({name})", transient=True)
    if isinstance(exc, ValueError):  # json.JSONDecodeError and pydantic errors: the body was garbage
        return CallError("bad_response", f"unreadable response ({name}: {str(exc)[:120]})", transient=True)
    return CallError("network", f"{name}: {str(exc)[:160]}", transient=True)


def _enum(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


def _gemini_reply(chunks: list[Any]) -> Reply:
    text: list[str] = []
    finish, usage = "", {}
    for resp in chunks:
        um = getattr(resp, "usage_metadata", None)
        if um is not None:  # the last chunk carries the totals
            usage = {"input": um.prompt_token_count or 0, "output": um.candidates_token_count or 0,
                     "thinking": um.thoughts_token_count or 0}
        fb = getattr(resp, "prompt_feedback", None)
        if fb is not None and fb.block_reason:
            raise CallError("blocked", f"prompt blocked (block_reason={_enum(fb.block_reason)})", usage=usage)
        for cand in (resp.candidates or [])[:1]:
            finish = _enum(cand.finish_reason) or finish
            parts = cand.content.parts if cand.content and cand.content.parts else []
            text.extend(p.text for p in parts if p.text and not p.thought)
    body = "".join(text)
    if finish in BLOCK_FINISH:
        raise CallError("blocked", f"candidate blocked (finish_reason={finish})", usage=usage)
    if not body.strip():
        raise CallError("empty", f"empty candidate (finish_reason={finish or 'none'})", usage=usage)
    return Reply(body, finish or "STOP", usage)


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

    def _post(self, body: dict[str, Any]) -> tuple[int, str, str | None]:
        """One POST with the stdlib (no extra dependency); runs in a worker thread."""
        import urllib.error
        import urllib.request

        headers = {"Content-Type": "application/json"}
        key = _env_key((self._key_env,))
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, resp.read().decode("utf-8", "replace"), None
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace"), exc.headers.get("retry-after")

    async def complete(self, system: str, messages: Messages, *, schema: dict[str, Any] | None = None,
                       grammar: str = "", temperature: float = 0.0, max_tokens: int = 512,
                       thinking_budget: int | None = None, stream: bool = False) -> Reply:
        msgs = ([{"role": "system", "content": system}] if system else []) + [dict(m) for m in messages]
        body: dict[str, Any] = {"model": self.model, "messages": msgs, "temperature": temperature,
                                "max_tokens": max_tokens}
        if schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "reply", "schema": schema, "strict": True}}
        try:
            status, text, retry_after = await asyncio.to_thread(self._post, body)
        except Exception as exc:  # URLError, socket timeout, connection refused
            reason = getattr(exc, "reason", None)
            raise _transport_error(reason if isinstance(reason, Exception) else exc) from None
        if status != 200:
            raise http_error(status, text[:200], retry_after)
        try:
            data = json.loads(text)
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise _transport_error(ValueError(f"not a chat completion: {exc}")) from None
        u = data.get("usage") or {}
        usage = {"input": int(u.get("prompt_tokens") or 0), "output": int(u.get("completion_tokens") or 0),
                 "thinking": int((u.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)}
        finish = str(choice.get("finish_reason") or "stop")
        if finish in BLOCK_FINISH:
            raise CallError("blocked", f"candidate blocked (finish_reason={finish})", usage=usage)
        if not text.strip():
            raise CallError("empty", f"empty reply (finish_reason={finish})", usage=usage)
        return Reply(text, finish, usage)


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
        self.threads = int(getattr(cfg, "threads", 0)) or max(1, min(4, (os.cpu_count() or 2) // 2))
        self.seed = seed
        self._llm: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._llm is None:
            from llama_cpp import Llama

            self._llm = Llama(model_path=str(self.path), n_ctx=self.n_ctx, seed=self.seed,
                              n_threads=self.threads, verbose=False)
        return self._llm

    def _run(self, msgs: list[dict[str, str]], grammar: str, schema: dict[str, Any] | None, temperature: float,
             max_tokens: int) -> Reply:
        with self._lock:
            llm = self._load()
            kw: dict[str, Any] = {}
            if grammar or schema is not None:
                from llama_cpp import LlamaGrammar

                kw["grammar"] = (LlamaGrammar.from_string(grammar, verbose=False) if grammar
                                 else LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False))
            out = llm.create_chat_completion(messages=msgs, temperature=temperature, max_tokens=max_tokens, **kw)
        choice = out["choices"][0]
        u = out.get("usage") or {}
        usage = {"input": int(u.get("prompt_tokens") or 0), "output": int(u.get("completion_tokens") or 0)}
        text = choice["message"].get("content") or ""
        if not text.strip():
            raise CallError("empty", f"empty reply (finish_reason={choice.get('finish_reason')})", usage=usage)
        return Reply(text, str(choice.get("finish_reason") or "stop"), usage)

    async def complete(self, system: str, messages: Messages, *, schema: dict[str, Any] | None = None,
                       grammar: str = "", temperature: float = 0.0, max_tokens: int = 512,
                       thinking_budget: int | None = None, stream: bool = False) -> Reply:
        msgs = ([{"role": "system", "content": system}] if system else []) + [dict(m) for m in messages]
        try:
            return await asyncio.to_thread(self._run, msgs, grammar, schema, temperature, max_tokens)
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
