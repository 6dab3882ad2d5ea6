"""A hub id as a model source (``org/name``), checked before a run folder exists: in the local Hugging Face
cache, else asked of the hub (``HF_ENDPOINT``). Only an answer lets the run start: a hub that says the
model is missing refuses it, and so does a hub that cannot be reached (the worker's download would retry
it offline for minutes and fail; download the model first, or give a local folder or .gguf).
Read as huggingface_hub reads it: the hub answers a missing repo with 401 (or 404) and
``X-Error-Code: RepoNotFound`` when asked without a token (a private repo looks the same), ``GatedRepo``
for a gated one, and ``X-Error-Message: Invalid credentials in Authorization header`` for a bad token.
Light: standard library only, no huggingface_hub import."""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from pipeline.errors import ConfigError

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")  # org/name, as the hub names
EXPECTED = "expected a hub id like HuggingFaceTB/SmolLM2-135M-Instruct, 'embedded', run:<id>, an HF folder or a .gguf"
TIMEOUT_S = 5.0


def hub_cache() -> Path:
    """Where huggingface_hub keeps downloads: $HF_HUB_CACHE, $HF_HOME/hub, or ~/.cache/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


def cached(repo_id: str) -> bool:
    """True when a snapshot of ``repo_id`` with a config.json is in the local cache."""
    snaps = hub_cache() / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    try:
        return any((s / "config.json").exists() for s in snaps.iterdir())
    except OSError:
        return False


def check_hub_id(repo_id: str, key: str = "model.source") -> None:
    """Refuse (ConfigError, one line) a hub id that is malformed, or not cached and unknown to the hub."""
    if cached(repo_id):
        return
    if not HUB_ID.match(repo_id):
        raise ConfigError(f"{key}={repo_id!r}: no such file or folder, and not a hub id ({EXPECTED})")
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise ConfigError(f"{key}={repo_id!r}: not in the local Hugging Face cache ({hub_cache()}) and "
                          "HF_HUB_OFFLINE is set")
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    url = f"{endpoint}/api/models/{urllib.parse.quote(repo_id, safe='/')}"
    headers = {"User-Agent": "aba-preflight"}
    token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers, method="GET"),
                                    timeout=TIMEOUT_S) as resp:
            resp.read(1)
    except urllib.error.HTTPError as exc:
        verdict = _refusal(exc, key, repo_id, endpoint, bool(token))
        if verdict:
            raise ConfigError(verdict) from None
        return  # gated, forbidden to this token, a server error: not an answer about the model
    except (urllib.error.URLError, OSError, ValueError) as exc:
        why = getattr(exc, "reason", exc)
        raise ConfigError(f"{key}={repo_id!r}: not in the local Hugging Face cache ({hub_cache()}) and {endpoint} "
                          f"cannot be reached ({why}); download it first or give a local folder or .gguf") from None


BAD_TOKEN = "Invalid credentials in Authorization header"


def _refusal(exc: urllib.error.HTTPError, key: str, repo_id: str, endpoint: str, token: bool) -> str:
    """The one line that refuses the run, or "" when the answer says nothing against the model."""
    code, message = exc.headers.get("X-Error-Code", ""), exc.headers.get("X-Error-Message", "")
    if code == "GatedRepo":
        return ""  # it exists; the download says whether the token may read it
    if exc.code == 401 and message == BAD_TOKEN:
        return (f"{key}={repo_id!r}: {endpoint} refuses the token in HF_TOKEN ({message}); set a valid token or "
                "unset it for a public model")
    if code == "RepoNotFound" or exc.code == 404 or exc.code == 401:
        private = "" if token else " (a private repo looks the same without HF_TOKEN)"
        return f"{key}={repo_id!r}: no such model on {endpoint}{private}; {EXPECTED}"
    return ""
