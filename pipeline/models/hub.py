"""A hub id as a model source (``org/name``), checked before a run folder exists: in the local Hugging Face
cache, else asked of the hub (``HF_ENDPOINT``). A hub that says 404 refuses the run; a hub that cannot be
reached proves nothing (an offline machine, a proxy): the worker's download then says what failed.
Light: standard library only, no huggingface_hub import."""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from pipeline.errors import ConfigError

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")
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
    if not HUB_ID.match(repo_id):
        raise ConfigError(f"{key}={repo_id!r}: not a hub id (expected org/name, 'embedded', an HF folder or a .gguf)")
    if cached(repo_id):
        return
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
        if exc.code in (401, 403):
            return  # gated or private: it exists; the worker's download says whether the token may read it
        if exc.code == 404:
            raise ConfigError(f"{key}={repo_id!r}: no such model on {endpoint} (expected a hub id like "
                              "HuggingFaceTB/SmolLM2-135M-Instruct, or a local folder or .gguf)") from None
        return  # a server error is not an answer about the model either
    except (urllib.error.URLError, OSError, ValueError):
        return  # unreachable: not evidence that it does not exist
