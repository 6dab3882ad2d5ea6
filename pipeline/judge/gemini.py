"""Gemini through the official google-genai SDK (async client): a Shape in, a Reply or a typed CallError out.

What comes back is read as the service documents it: thought parts (``thought: true``) apart from the
answer; ``MAX_TOKENS`` with no answer (no parts, no content, no candidates, or an empty part: all four
are seen on the wire) is ``empty_thinking``, with text it is a *truncated* reply; a blocked prompt or
candidate is ``blocked`` with the harm category that blocked it. Imports the SDK in the constructor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.errors import ConfigError
from pipeline.judge.calls import Reply
from pipeline.judge.failures import CallError, http_error
from pipeline.judge.families import DEFAULT_GEMINI_MODEL
from pipeline.judge.pacing import Gate, gate_for
from pipeline.judge.shaping import Shape
from pipeline.redact import register_value

# Finish reasons that mean the content was withheld (HELM counts the same set as "content blocked").
BLOCK_FINISH = ("SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION", "IMAGE_SAFETY", "content_filter")

Messages = Sequence[Mapping[str, str]]


def env_key(names: tuple[str, ...]) -> str:
    import os

    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return ""


def transport_error(exc: BaseException) -> CallError:
    name = type(exc).__name__
    if "Timeout" in name or isinstance(exc, asyncio.TimeoutError):
        return CallError("timeout", f"request timed out ({name})", transient=True)
    if isinstance(exc, ValueError):  # json.JSONDecodeError and pydantic errors: the body was garbage
        return CallError("bad_response", f"unreadable response ({name}: {str(exc)[:120]})", transient=True)
    return CallError("network", f"{name}: {str(exc)[:160]}", transient=True)


class GeminiClient:
    backend = "gemini"

    def __init__(self, cfg: Any, prefix: str) -> None:
        from google import genai
        from google.genai import types

        self._types = types
        self.model = cfg.model or DEFAULT_GEMINI_MODEL
        self._key_env = cfg.api_key_env
        http = types.HttpOptions(base_url=cfg.base_url or None, timeout=int(cfg.timeout * 1000),
                                 # attempts=1: retries are ours (counted, RetryInfo honoured)
                                 retry_options=types.HttpRetryOptions(attempts=1))
        if cfg.vertex_project:
            self._client = genai.Client(vertexai=True, project=cfg.vertex_project,
                                        location=cfg.vertex_location, http_options=http)
            where = f"vertex:{cfg.vertex_project}:{cfg.vertex_location}"
        else:
            names = (cfg.api_key_env,) if cfg.api_key_env else ("GEMINI_API_KEY", "GOOGLE_API_KEY")
            key = env_key(names)
            if not key:
                raise ConfigError(f"{prefix}.backend=gemini: no API key in the environment (set "
                                  f"{' or '.join(names)}, or {prefix}.vertex_project for Vertex AI)")
            register_value(key)  # whichever variable held it, no error or item written carries it
            self._client = genai.Client(api_key=key, http_options=http)
            where = "gemini-api"
        # Quotas are per project and model: the generator and a judge on one model share a pause.
        self.gate: Gate = gate_for("gemini", cfg.base_url or where, self.model)

    def _config(self, system: str, schema: dict[str, Any] | None, shape: Shape) -> Any:
        t = self._types
        kw: dict[str, Any] = {"system_instruction": system or None, "max_output_tokens": shape.max_output_tokens}
        if shape.temperature is not None:
            kw["temperature"] = shape.temperature
        if schema is not None:
            kw.update(response_mime_type="application/json", response_json_schema=schema)
        if shape.thinking_budget is not None or shape.thinking_level is not None or shape.include_thoughts:
            kw["thinking_config"] = t.ThinkingConfig(
                thinking_budget=shape.thinking_budget,
                thinking_level=t.ThinkingLevel(shape.thinking_level.upper()) if shape.thinking_level else None,
                include_thoughts=True if shape.include_thoughts else None)
        if shape.safety:
            kw["safety_settings"] = [t.SafetySetting(category=t.HarmCategory(c), threshold=t.HarmBlockThreshold(h))
                                     for c, h in shape.safety]
        return t.GenerateContentConfig(**kw)

    def _contents(self, messages: Messages) -> tuple[str, list[Any]]:
        t = self._types
        extra_system = "\n".join(m["content"] for m in messages if m.get("role") == "system")
        contents = [t.Content(role="model" if m["role"] == "assistant" else "user",
                              parts=[t.Part(text=m["content"])]) for m in messages if m.get("role") != "system"]
        return extra_system, contents

    async def complete(self, system: str, messages: Messages, shape: Shape, *, schema: dict[str, Any] | None = None,
                       grammar: str = "", stream: bool = False) -> Reply:
        from google.genai import errors

        extra, contents = self._contents(messages)
        config = self._config("\n\n".join(s for s in (system, extra) if s), schema, shape)
        try:
            if stream:
                chunks = [c async for c in await self._client.aio.models.generate_content_stream(
                    model=self.model, contents=contents, config=config)]
            else:
                chunks = [await self._client.aio.models.generate_content(
                    model=self.model, contents=contents, config=config)]
        except errors.APIError as exc:
            headers = getattr(getattr(exc, "response", None), "headers", None) or {}
            message = str(exc.message or exc.status or "")  # CallError redacts
            raise http_error(int(exc.code or 0), message, body=exc.details,
                             retry_after=headers.get("retry-after")) from None
        except CallError:
            raise
        except Exception as exc:  # transport errors, timeouts, a body that is not JSON
            raise transport_error(exc) from None
        return gemini_reply(chunks)


def _enum(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


def _category(ratings: Any, fallback: str) -> str:
    """The harm category that blocked: the rating marked ``blocked``, else the most probable one."""
    order = {"NEGLIGIBLE": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}
    best, rank = "", -1
    for r in ratings or []:
        cat = _enum(getattr(r, "category", "")).removeprefix("HARM_CATEGORY_").lower()
        score = 9 if getattr(r, "blocked", None) else order.get(_enum(getattr(r, "probability", "")), 0)
        if cat and score > rank:
            best, rank = cat, score
    return best or fallback.lower()


def gemini_reply(chunks: list[Any]) -> Reply:
    text: list[str] = []
    thoughts: list[str] = []
    finish, usage, ratings, candidates = "", {}, None, 0
    for resp in chunks:
        um = getattr(resp, "usage_metadata", None)
        if um is not None:  # the last chunk carries the totals; a missing count is 0
            usage = {"input": um.prompt_token_count or 0, "output": um.candidates_token_count or 0,
                     "thinking": um.thoughts_token_count or 0}
        fb = getattr(resp, "prompt_feedback", None)
        if fb is not None and fb.block_reason:
            reason = _enum(fb.block_reason)
            raise CallError("blocked", f"prompt blocked (block_reason={reason})", usage=usage,
                            category=_category(fb.safety_ratings, reason))
        for cand in (resp.candidates or [])[:1]:
            candidates += 1
            finish = _enum(cand.finish_reason) or finish
            ratings = cand.safety_ratings or ratings
            for p in (cand.content.parts if cand.content and cand.content.parts else []):
                if p.text:
                    (thoughts if p.thought else text).append(p.text)
    body = "".join(text)
    if finish in BLOCK_FINISH:
        raise CallError("blocked", f"candidate blocked (finish_reason={finish})", usage=usage,
                        category=_category(ratings, finish))
    numbers = (f"thinking {usage.get('thinking', 0)} tokens, answer {usage.get('output', 0)}, "
               f"finish {finish or 'none'}")
    if not body.strip():
        if finish == "MAX_TOKENS" or (not candidates and usage.get("thinking")):
            raise CallError("empty_thinking", f"no answer: thinking used the output cap ({numbers})", usage=usage)
        raise CallError("empty", f"empty candidate ({numbers})", usage=usage)
    return Reply(body, finish or "STOP", usage, "".join(thoughts), truncated=finish == "MAX_TOKENS")
