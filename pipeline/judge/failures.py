"""A failed call as one typed error, and how to read the service's own words about waiting.

A Gemini 429 carries its wait in the body (``error.details[]`` of type ``google.rpc.RetryInfo``,
``retryDelay: "45.837906927s"``) and, in newer texts, in the message ("Please retry in 39.8s"); no
Retry-After header, though a proxy may add one. A 429 naming a per-day quota resets at midnight
Pacific: waiting in-run is pointless, so it is fatal with the quota's name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pipeline.redact import redact  # the one redaction: every key the process holds (docs/reliability.md)

# kind → retried in-run? (the ledger groups errors by kind; docs/judge.md lists them)
TRANSIENT = ("rate_limited", "server_error", "timeout", "network", "bad_response")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
_RETRY_IN = re.compile(r"retry in (\d+(?:\.\d+)?)\s*(ms|s)\b", re.I)


class CallError(Exception):
    """A failed call. ``kind`` groups errors for the ledger; ``transient`` ones are retried;
    ``retry_after`` is the wait the server asked for; ``category`` names what a safety block was for.
    The message is redacted: no credential the process holds survives into a log or a ledger."""

    def __init__(self, kind: str, message: str, *, transient: bool = False, retry_after: float | None = None,
                 usage: Mapping[str, int] | None = None, category: str = "", quota: str = "",
                 fatal: bool = False) -> None:
        super().__init__(redact(message))
        self.kind = kind
        self.transient = transient
        self.retry_after = retry_after
        self.usage = dict(usage or {})  # a blocked or empty reply is still billed
        self.category = category
        self.quota = quota
        self.fatal = fatal  # no call can succeed until something outside the run changes


def parse_duration(text: object) -> float | None:
    """A protobuf Duration in JSON ("15s", "45.837906927s") → seconds."""
    m = _DURATION.match(text) if isinstance(text, str) else None
    return float(m.group(1)) if m else None


def retry_after_header(value: str | None) -> float | None:
    """A Retry-After header in seconds (an HTTP date is left to our backoff)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _details(body: object) -> list[Mapping[str, Any]]:
    err = body.get("error", body) if isinstance(body, Mapping) else None
    det = err.get("details") if isinstance(err, Mapping) else None
    return [d for d in det if isinstance(d, Mapping)] if isinstance(det, list) else []


def server_delay(body: object, message: str) -> float | None:
    """The wait a 429 asks for: the longer of RetryInfo's ``retryDelay`` and the message's "Please retry
    in X s" (the body may round the delay down: "58s" beside "Please retry in 58.934310785s")."""
    found: list[float] = []
    for d in _details(body):
        if str(d.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = parse_duration(d.get("retryDelay"))
            if delay is not None:
                found.append(delay)
    m = _RETRY_IN.search(message or "")
    if m:
        found.append(float(m.group(1)) / (1000.0 if m.group(2).lower() == "ms" else 1.0))
    return max(found) if found else None


def day_quota(body: object, message: str) -> str:
    """The per-day quota a 429 names ("" when none): QuotaFailure's quotaId or ErrorInfo's quota_limit."""
    for d in _details(body):
        kind = str(d.get("@type", ""))
        names: list[str] = []
        if kind.endswith("google.rpc.QuotaFailure"):
            names = [str(v.get("quotaId", "")) for v in d.get("violations") or [] if isinstance(v, Mapping)]
        elif kind.endswith("google.rpc.ErrorInfo"):
            meta = d.get("metadata") or {}
            names = [str(meta.get("quota_limit", ""))] if isinstance(meta, Mapping) else []
        for name in names:
            if "perday" in name.lower():
                return name
    return "requests per day" if re.search(r"\bper day\b", message or "", re.I) else ""


def http_error(status: int, message: str, *, body: object = None, retry_after: str | None = None) -> CallError:
    """An HTTP status (and its JSON body, when there is one) → a CallError of the right kind."""
    header = retry_after_header(retry_after)
    full, message = message, (message if len(message) <= 400 else message[:400] + "…")
    if status == 429:
        quota = day_quota(body, full)
        if quota:
            return CallError("quota_exhausted", f"HTTP 429: daily quota {quota} is spent (it resets at midnight "
                             f"Pacific time): {message}", quota=quota, fatal=True)
        delay = server_delay(body, full)
        return CallError("rate_limited", f"HTTP 429: {message}", transient=True,
                         retry_after=delay if delay is not None else header)
    if status == 408:
        return CallError("timeout", f"HTTP 408: {message}", transient=True, retry_after=header)
    if status >= 500:
        return CallError("server_error", f"HTTP {status}: {message}", transient=True, retry_after=header)
    return CallError("client_error", f"HTTP {status}: {message}")
