"""One redaction for every credential the process holds, applied by every writer of errors, log lines and
items: ``redact(text)`` replaces each known secret value with ``***``.

What is known: the value of every environment variable a config names as a key (``api_key_env`` of any
section, ``register_env``), the well-known key variables (Gemini, Google, OpenAI, the eval and chat keys,
Hugging Face tokens), any variable whose name says it holds a secret (``*_KEY``, ``*TOKEN*``,
``*SECRET*``, ``*PASSWORD*``), and the secret parts of webhook URLs and headers (``register_url``,
``register_value``). Each value is also matched URL-encoded and JSON-escaped, as servers echo them.
Userinfo in any URL (``scheme://user:token@host``) is masked whatever its value.
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
import urllib.parse
from collections.abc import Iterable
from typing import Any

MASK = "***"
MIN_LEN = 6  # shorter values are too likely to be ordinary words
# A key cut short (a message truncated inside the echoed key) is masked too, for keys of PARTIAL_MIN+
# characters (API keys, tokens; a short password's prefix would mask ordinary words): its first PARTIAL
# characters anywhere, with what follows of it, or its first TAIL+ characters at the very end of a text.
PARTIAL_MIN, PARTIAL, TAIL = 16, 8, 6
WELL_KNOWN = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_API_KEY", "ABA_EVAL_API_KEY", "ABA_CHAT_API_KEY",
              "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "ANTHROPIC_API_KEY")
_SECRET_NAME = re.compile(r"(^|_)(API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)(_|$)", re.I)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@:]*(?::[^/\s@]*)?@")

_lock = threading.Lock()
_env_names: set[str] = set(WELL_KNOWN)
_values: set[str] = set()


def register_env(*names: str) -> None:
    """Environment variables that hold keys (a config's ``api_key_env``): their values are redacted."""
    with _lock:
        _env_names.update(n for n in names if n)


def register_value(*values: str) -> None:
    """Secret values held other than in the environment (webhook tokens, header values)."""
    with _lock:
        _values.update(v for v in values if v and len(v) >= MIN_LEN)


def register_url(url: str) -> None:
    """A URL whose userinfo, path segments and query values may be tokens (webhooks)."""
    parts = urllib.parse.urlsplit(url)
    found = [parts.password or "", parts.username or ""]
    found += [seg for seg in parts.path.split("/") if seg]
    found += [v for _k, v in urllib.parse.parse_qsl(parts.query)]
    if not parts.scheme:  # "host/path/token" without a scheme: every segment may be the token
        found += [seg for seg in url.split("/") if seg]
    register_value(*found)


@functools.lru_cache(maxsize=4096)
def _is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def secrets() -> list[str]:
    """Every value redacted now, longest first (so a key that contains another is masked whole)."""
    with _lock:
        names = set(_env_names)
        vals = set(_values)
    for name, value in os.environ.items():
        if (name in names or _is_secret_name(name)) and len(value) >= MIN_LEN:
            vals.add(value)
    return _forms(frozenset(vals))


@functools.lru_cache(maxsize=64)
def _forms(vals: frozenset[str]) -> list[str]:
    forms: set[str] = set()
    for v in vals:
        forms.add(v)
        forms.add(urllib.parse.quote(v, safe=""))
        forms.add(urllib.parse.quote_plus(v))
        forms.add(json.dumps(v)[1:-1])
    return sorted((f for f in forms if len(f) >= MIN_LEN), key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with every known secret, a long one cut short, and any URL userinfo replaced by ***."""
    if not text:
        return text
    known = secrets()
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    for value in known:
        text = _mask_partial(text, value)
    return _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)


def _mask_partial(text: str, value: str) -> str:
    if len(value) < PARTIAL_MIN:
        return text
    if len(value) > PARTIAL:
        head = value[:PARTIAL]
        i = text.find(head)
        while i >= 0:
            j = i + PARTIAL
            while j < len(text) and j - i < len(value) and text[j] == value[j - i]:
                j += 1
            text = text[:i] + MASK + text[j:]
            i = text.find(head, i + len(MASK))
    for k in range(min(len(value) - 1, PARTIAL - 1), TAIL - 1, -1):
        if text.endswith(value[:k]):
            return text[:-k] + MASK
    return text


def redact_bytes(data: bytes) -> bytes:
    """:func:`redact` for raw log bytes (decoded as UTF-8 with replacement only when a secret is there)."""
    if not data:
        return data
    hit = any(v.encode() in data for v in secrets()) or (b"@" in data and b"://" in data)
    return redact(data.decode("utf-8", "replace")).encode("utf-8") if hit else data


def redact_obj(obj: object) -> object:
    """Every string inside a JSON-like value redacted (keys too)."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {redact(k) if isinstance(k, str) else k: redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_obj(v) for v in obj]
    return obj


def register_config(cfg: object) -> None:
    """Every ``api_key_env`` a run's config names (any section: datagen, judge, eval …)."""
    sections = getattr(cfg, "sections", {})
    register_env(*(str(getattr(sec, "api_key_env", "") or "") for sec in sections.values()))


class RedactingStream:
    """A text stream that masks credentials in whatever is written to it (a worker's stdout and stderr:
    tracebacks, prints, warnings; C libraries writing to the descriptor itself bypass it)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        self._inner.write(redact(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
