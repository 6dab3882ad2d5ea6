"""A light streaming client for OpenAI-compatible chat servers (stdlib only; used from UI threads).

It talks to the A/B model processes (pipeline.chat.serve) and to any OpenAI-compatible URL (LM
Studio, llama-server, vLLM). Every failure becomes a ChatError with one line that names the URL and
what went wrong; a stream can be stopped from another thread with ``close()``.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pipeline.errors import AbaError


class ChatError(AbaError):
    """A model side failed: unreachable, rejected the request, or died mid-stream."""


@dataclass
class Endpoint:
    """Where one side's model answers: ``base_url`` ends with /v1."""

    base_url: str
    api_key: str = ""
    model: str = ""  # sent as "model"; empty lets the server pick its loaded model
    label: str = ""

    @classmethod
    def from_url(cls, url: str, api_key: str = "", model: str = "", label: str = "") -> Endpoint:
        return cls(normalize_url(url), api_key, model, label or url)


def normalize_url(url: str) -> str:
    """``localhost:1234`` or ``http://h:1234`` or ``…/v1/`` → ``http://h:1234/v1``."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChatError(f"{url!r}: expected an http(s) URL of an OpenAI-compatible server, e.g. "
                        "http://127.0.0.1:1234/v1")
    path = parts.path.rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    return f"{parts.scheme}://{parts.netloc}{path}"


@dataclass
class Sampling:
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 256
    seed: int | None = None

    def to_request(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v is not None}
        return out


def parse_sampling(values: dict[str, str]) -> Sampling:
    """Sampling from form strings, or a ValueError naming the field and the expected range."""
    def num(name: str, cast: type, lo: float, hi: float) -> Any:
        raw = values.get(name, "").strip()
        try:
            v = cast(raw)
        except ValueError:
            v = None
        if v is None or not lo <= v <= hi:
            raise ValueError(f"{name}={raw!r}: expected a {cast.__name__} from {lo:g} to {hi:g}")
        return v

    seed = num("seed", int, 0, 2**31 - 1) if values.get("seed", "").strip() else None
    return Sampling(num("temperature", float, 0, 5), num("top_p", float, 0.01, 1), num("max_tokens", int, 1, 32768),
                    seed)


@dataclass
class StreamStats:
    t_sent: float = 0.0
    t_first: float | None = None
    t_end: float | None = None
    chunks: int = 0
    completion_tokens: int | None = None  # from the server's usage, when it sends one
    prompt_tokens: int | None = None
    cached_tokens: int | None = None  # prompt tokens the server reused from its cache (usage details)
    finish_reason: str | None = None

    @property
    def tokens(self) -> int:
        return self.completion_tokens if self.completion_tokens is not None else self.chunks

    @property
    def ttft_s(self) -> float | None:
        return None if self.t_first is None else self.t_first - self.t_sent

    @property
    def tokens_per_s(self) -> float | None:
        """Decode speed: tokens after the first over the time since the first arrived."""
        if self.t_first is None or self.t_end is None or self.tokens < 2:
            return None
        span = self.t_end - self.t_first
        return (self.tokens - 1) / span if span > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {"ttft_s": self.ttft_s, "tokens_per_s": self.tokens_per_s, "tokens": self.tokens,
                "prompt_tokens": self.prompt_tokens, "finish_reason": self.finish_reason,
                "elapsed_s": None if self.t_end is None else self.t_end - self.t_sent}


def _connect(base_url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(base_url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    return cls(parts.hostname or "127.0.0.1", parts.port, timeout=timeout), parts.path


def _headers(ep: Endpoint) -> dict[str, str]:
    h = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if ep.api_key:
        h["Authorization"] = f"Bearer {ep.api_key}"
    return h


def _error_text(body: bytes) -> str:
    try:
        data = json.loads(body)
        err = data.get("error", data) if isinstance(data, dict) else data
        if isinstance(err, dict):
            return str(err.get("message") or err)
        return str(err)
    except (ValueError, UnicodeDecodeError):
        return body[:200].decode("utf-8", "replace").strip() or "(empty body)"


def get_json(ep: Endpoint, path: str, timeout: float = 5.0) -> Any:
    conn, prefix = _connect(ep.base_url, timeout)
    try:
        conn.request("GET", prefix + path, headers=_headers(ep))
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise ChatError(f"{ep.base_url}{path}: HTTP {resp.status}: {_error_text(body)}")
        return json.loads(body)
    except (OSError, http.client.HTTPException) as exc:
        raise ChatError(f"{ep.base_url}: cannot reach the server ({exc.__class__.__name__}: {exc})") from None
    except ValueError:
        raise ChatError(f"{ep.base_url}{path}: the answer is not JSON (not an OpenAI-compatible server?)") \
            from None
    finally:
        conn.close()


def list_models(ep: Endpoint, timeout: float = 5.0) -> list[str]:
    data = get_json(ep, "/models", timeout)
    return [m.get("id", "?") for m in data.get("data", []) if isinstance(m, dict)]


@dataclass
class ChatStream:
    """One streamed answer. Iterate for text pieces; ``stats`` and ``text`` fill as it goes."""

    endpoint: Endpoint
    messages: list[dict[str, str]]
    sampling: Sampling = field(default_factory=Sampling)
    timeout: float = 300.0
    stats: StreamStats = field(default_factory=StreamStats)
    text: str = ""
    stopped: bool = False

    def __post_init__(self) -> None:
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop the stream from any thread: the socket is shut, the server sees a disconnect."""
        with self._lock:
            self.stopped = True
            sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _body(self, usage: bool = True) -> bytes:
        req: dict[str, Any] = {"messages": self.messages, "stream": True, **self.sampling.to_request()}
        if usage:
            req["stream_options"] = {"include_usage": True}
        if self.endpoint.model:
            req["model"] = self.endpoint.model
        return json.dumps(req).encode("utf-8")

    def _open(self, conn: http.client.HTTPConnection, path: str, usage: bool) -> http.client.HTTPResponse:
        conn.request("POST", path, body=self._body(usage), headers=_headers(self.endpoint))
        return conn.getresponse()

    def __iter__(self) -> Iterator[str]:
        ep = self.endpoint
        url = ep.base_url + "/chat/completions"
        self.stats.t_sent = time.perf_counter()
        usage = True
        while True:
            conn, prefix = _connect(ep.base_url, self.timeout)
            try:
                try:
                    conn.connect()
                    # Kept here: http.client drops conn.sock once a "Connection: close" response starts.
                    with self._lock:
                        self._sock = conn.sock
                        if self.stopped:
                            return
                    resp = self._open(conn, prefix + "/chat/completions", usage)
                except ConnectionRefusedError:
                    raise ChatError(f"{url}: connection refused (is the model server running?)") from None
                except TimeoutError:
                    raise ChatError(f"{url}: no answer within {self.timeout:.0f} s") from None
                if resp.status != 200:
                    body = resp.read()
                    if usage and resp.status in (400, 422) and b"stream_options" in body:
                        usage = False  # an older server that refuses the usage option: ask without it
                        continue
                    raise ChatError(f"{url}: HTTP {resp.status}: {_error_text(body)}")
                yield from self._read_events(resp, url)
                return
            except (OSError, http.client.HTTPException) as exc:
                if self.stopped:
                    self.stats.finish_reason = "stopped"
                    return
                raise ChatError(f"{url}: connection lost mid-answer ({exc.__class__.__name__}: {exc}); "
                                "the model process may have died") from None
            finally:
                self.stats.t_end = time.perf_counter()
                conn.close()

    def _read_events(self, resp: http.client.HTTPResponse, url: str) -> Iterator[str]:
        done = False
        while not self.stopped:
            raw = resp.readline()
            if not raw:
                break
            line = raw.strip()
            if not line or line.startswith(b":") or not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]":
                done = True
                break
            try:
                chunk = json.loads(payload)
            except ValueError:
                raise ChatError(f"{url}: a stream event is not JSON: {payload[:80]!r}") from None
            if isinstance(chunk, dict) and "error" in chunk:
                raise ChatError(f"{url}: the server reported: {_error_text(payload)}")
            usage = chunk.get("usage") if isinstance(chunk, dict) else None
            if isinstance(usage, dict):
                self.stats.completion_tokens = usage.get("completion_tokens", self.stats.completion_tokens)
                self.stats.prompt_tokens = usage.get("prompt_tokens", self.stats.prompt_tokens)
                details = usage.get("prompt_tokens_details")
                if isinstance(details, dict) and isinstance(details.get("cached_tokens"), int):
                    self.stats.cached_tokens = details["cached_tokens"]
            for choice in chunk.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content") or ""
                if choice.get("finish_reason"):
                    self.stats.finish_reason = choice["finish_reason"]
                if piece:
                    if self.stats.t_first is None:
                        self.stats.t_first = time.perf_counter()
                    self.stats.chunks += 1
                    self.text += piece
                    yield piece
        if self.stopped:
            self.stats.finish_reason = "stopped"
        elif not done and self.stats.finish_reason is None:
            raise ChatError(f"{url}: the stream ended before the answer did; the model process may have died")


def complete(ep: Endpoint, messages: list[dict[str, str]], sampling: Sampling | None = None,
             timeout: float = 300.0) -> tuple[str, StreamStats]:
    """The whole answer at once (battery, probes); still streamed underneath for the timings."""
    stream = ChatStream(ep, messages, sampling or Sampling(), timeout)
    for _ in stream:
        pass
    return stream.text, stream.stats
