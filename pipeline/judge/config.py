"""The [judge] config section: which backend scores answers, and how hard it may be driven."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config.fields import opt
from pipeline.judge.families import DEFAULT_GEMINI_MODEL, FAMILY_NAMES
from pipeline.judge.shaping import DEFAULT_SAFETY, SAFETY_FORM, THINKING_HELP, Shape, shape_request

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
    vertex_location: str = opt("global", "gemini on Vertex AI: the location (Gemini 3 is served on global only)")
    family: str = opt("", "gemini: the model family whose rules apply (empty: from the model id)",
                      choices=("", *FAMILY_NAMES))
    thinking: str = opt("min", "gemini thinking of a judgement: " + THINKING_HELP + "; min: Flash 0, 2.5 Pro 128, "
                        "Gemini 3 Pro low")
    temperature: float = opt(0.0, "sampling temperature (0: reproducible scores; Gemini 3: not sent below 1.0)",
                             min=0.0, max=2.0)
    max_tokens: int = opt(512, "the judgement's own tokens; gemini's output cap adds the thinking allowance "
                          "(thinking is billed against the cap)", min=16, max=65536)
    safety: list[str] = opt(list(DEFAULT_SAFETY), "gemini safety_settings, one category=threshold each: "
                            + SAFETY_FORM)
    concurrency: int = opt(4, "judge calls in flight at most (halved on a 429, grown back one at a time; local: "
                           "1 model, calls queue)", min=1, max=256)
    rpm: int = opt(0, "requests per minute limit (0: none)", min=0, max=100000)
    retries: int = opt(6, "retries of a call on 408/5xx/timeouts (exponential backoff with jitter); a rate limit "
                       "is waited out as the server asks, within retry_time", min=0, max=50)
    backoff: float = opt(1.0, "first retry delay in seconds when the server names none (doubles each retry)",
                         min=0.0, max=600.0)
    retry_time: float = opt(600.0, "seconds one judgement may spend on retries and waits (quota windows "
                            "included) before it is missing", min=1.0, max=86400.0)
    cap_retries: int = opt(2, "times a judgement cut or emptied by the output cap is asked again with twice the cap",
                           min=0, max=5)
    timeout: float = opt(120.0, "seconds one request may take", min=0.1, max=3600.0)
    cache: bool = opt(True, "cache judgements by content key: the same answer is never paid for twice")
    n_ctx: int = opt(2048, "local: context window", min=256, max=131072)
    threads: int = opt(0, "local: llama.cpp threads (0: half the cores, at most 4)", min=0, max=256)
    max_answer_chars: int = opt(6000, "answers longer than this are cut before judging", min=100)
    price_input: float = opt(-1.0, "USD per million input tokens (-1: the price table's for the model, "
                             "docs/judge.md)", min=-1.0)
    price_output: float = opt(-1.0, "USD per million output and thinking tokens (-1: the price table's)", min=-1.0)


def judge_model(sec: JudgeSection) -> str:
    """The model id the backend will ask (gemini's default when empty)."""
    return sec.model or (DEFAULT_GEMINI_MODEL if sec.backend == "gemini" else "")


def judge_shape(sec: JudgeSection, prefix: str = "judge") -> Shape:
    """The request every judgement of this section sends (raises ConfigError on a value the model refuses)."""
    return shape_request(sec.backend, judge_model(sec), thinking=sec.thinking, answer_tokens=sec.max_tokens,
                         temperature=sec.temperature, use="judge", key=f"{prefix}.thinking", family=sec.family,
                         safety=sec.safety, safety_key=f"{prefix}.safety")


def check_section(sec: JudgeSection, prefix: str = "judge") -> None:
    """Light preflight (no SDK import): the request shape (thinking, cap, safety) the model accepts, and
    the key, URL or model file the backend will need."""
    judge_shape(sec, prefix)
    check_backend(sec, prefix)


def check_backend(sec: Any, prefix: str) -> None:
    """The key, URL or model file a section's backend will need (the [judge] and [datagen] sections)."""
    import os

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
    """Registry check for a stage that may use the judge (grpo.scorer = "judge", abliterate.judge = "judge"):
    its [judge] section must be usable, and the model must accept the request it will send."""
    judge = getattr(cfg, "sections", {}).get("judge")
    if judge is not None and "judge" in (getattr(sec, "scorer", ""), getattr(sec, "judge", "")):
        check_section(judge)
