"""The [judge] config section: which backend scores answers, and how hard it may be driven."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.config.schema import opt

BACKENDS = ("local", "gemini", "openai")


@dataclass
class JudgeSection:
    backend: str = opt("local", "local (a GGUF through llama-cpp-python), gemini (google-genai) or openai "
                       "(any OpenAI-compatible URL: llama-server, vLLM, LM Studio)", choices=BACKENDS)
    model: str = opt("", "local: a .gguf path (empty: the embedded model); gemini: a model id "
                     "(empty: gemini-2.5-flash); openai: the served model name")
    base_url: str = opt("", "gemini: API endpoint override (tests use a loopback stub); openai: the server URL, "
                        "e.g. http://127.0.0.1:8080/v1")
    api_key_env: str = opt("", "name of the environment variable holding the key (never the key itself); "
                           "empty: GEMINI_API_KEY/GOOGLE_API_KEY (gemini), OPENAI_API_KEY (openai, optional)")
    vertex_project: str = opt("", "gemini on Vertex AI: the project (then no API key; uses ADC)")
    vertex_location: str = opt("us-central1", "gemini on Vertex AI: the location")
    temperature: float = opt(0.0, "sampling temperature (0: reproducible scores)", min=0.0, max=2.0)
    max_tokens: int = opt(256, "max output tokens of one judgement", min=16, max=65536)
    concurrency: int = opt(4, "judge calls in flight at once (local: 1 model, calls queue)", min=1, max=256)
    rpm: int = opt(0, "requests per minute limit (0: none)", min=0, max=100000)
    retries: int = opt(4, "retries of a call on 408/429/5xx/timeouts (exponential backoff, jitter, "
                       "Retry-After honoured)", min=0, max=20)
    backoff: float = opt(1.0, "first retry delay in seconds (doubles each retry)", min=0.0, max=600.0)
    timeout: float = opt(120.0, "seconds one request may take", min=0.1, max=3600.0)
    cache: bool = opt(True, "cache judgements by content key: the same answer is never paid for twice")
    n_ctx: int = opt(2048, "local: context window", min=256, max=131072)
    threads: int = opt(0, "local: llama.cpp threads (0: half the cores, at most 4)", min=0, max=256)
    max_answer_chars: int = opt(6000, "answers longer than this are cut before judging", min=100)
    price_input: float = opt(0.30, "USD per million input tokens (for the cost estimate)", min=0.0)
    price_output: float = opt(2.50, "USD per million output (and thinking) tokens", min=0.0)


def check_section(sec: JudgeSection, prefix: str = "judge") -> None:
    """Light preflight (no SDK import): the key, URL or model file the backend will need."""
    import os
    from pathlib import Path

    from pipeline.errors import ConfigError

    if sec.backend == "gemini" and not sec.vertex_project:
        names = (sec.api_key_env,) if sec.api_key_env else ("GEMINI_API_KEY", "GOOGLE_API_KEY")
        if not any(os.environ.get(n) for n in names):
            raise ConfigError(f"{prefix}.backend=gemini: no API key in the environment (set {' or '.join(names)}, "
                              f"or {prefix}.vertex_project for Vertex AI)")
    if sec.backend == "openai" and not sec.base_url:
        raise ConfigError(f"{prefix}.base_url is empty: backend=openai needs the server URL, "
                          "e.g. http://127.0.0.1:8080/v1")
    if sec.backend == "local" and sec.model and not Path(sec.model).expanduser().is_file():
        raise ConfigError(f"{prefix}.model={sec.model!r}: no such GGUF file (expected a .gguf path; "
                          "empty uses the embedded model)")


def check_grpo_judge(cfg: object, sec: object, runs_dir: Path | None = None) -> None:
    """Registry check for grpo: the [judge] section must be usable when grpo.scorer = "judge"."""
    judge = getattr(cfg, "sections", {}).get("judge")
    if getattr(sec, "scorer", "") == "judge" and judge is not None:
        check_section(judge)
