"""The [datagen] config section: prompts, the generator model and how hard it may be driven."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config.fields import opt
from pipeline.errors import ConfigError
from pipeline.judge.config import BACKENDS
from pipeline.judge.families import FAMILY_NAMES
from pipeline.judge.shaping import DEFAULT_SAFETY, SAFETY_FORM, THINKING_HELP

CATEGORIES = ("safety", "complexity", "multiturn", "conflict", "calibration")
SFT_THOUGHTS = ("off", "think")


@dataclass
class DatagenSection:
    prompts: str = opt("builtin:starter", "prompt set: builtin:<name> or a JSONL of {id, category, turns}")
    categories: list[str] = opt([], "categories to use (empty: all of " + ", ".join(CATEGORIES) + ")")
    per_category: int = opt(0, "prompts per category: more than the set has are written by the generator "
                            "(deduplicated); 0: use the set as is", min=0, max=100000)
    category_counts: list[str] = opt([], "exact prompts per category as category=N (seed 000: safety=100, "
                                     "complexity=150, multiturn=100, conflict=100, calibration=50): the set's first "
                                     "N, topped up by the generator when it has fewer; categories not named are "
                                     "left out; empty: per_category")
    max_prompts: int = opt(0, "use at most this many prompts (0: all)", min=0)
    traces: int = opt(4, "traces per prompt (seed 000: 4–8), cycling CHOSEN, REJECTED, ADEQUATE", min=3, max=64)
    judge: bool = opt(True, "score every complete trace with the [judge] section (a separate call)")
    pair_margin: float = opt(0.1, "DPO pairs ranked by judge score: minimum mean-score margin", min=0.0, max=1.0)
    max_lost: float = opt(0.1, "the run ends failed when more than this share of traces has no complete text "
                          "(lost after retries, empty, cut by the cap) or of complete traces has no judgement; "
                          "`aba resume` retries them", min=0.0, max=1.0)
    backend: str = opt("local", "generator: local (GGUF via llama-cpp-python), gemini or openai", choices=BACKENDS)
    model: str = opt("", "local: a .gguf (empty: the embedded model); gemini: a model id "
                     "(empty: gemini-2.5-flash); openai: the served model")
    family: str = opt("", "gemini: the model family whose rules apply (empty: from the model id)",
                      choices=("", *FAMILY_NAMES))
    base_url: str = opt("", "gemini: endpoint override; openai: server URL, e.g. http://127.0.0.1:8080/v1")
    api_key_env: str = opt("", "name of the environment variable holding the key (never the key itself)")
    vertex_project: str = opt("", "gemini on Vertex AI: the project")
    vertex_location: str = opt("global", "gemini on Vertex AI: the location (Gemini 3 is served on global only)")
    temperature: float = opt(0.8, "sampling temperature of traces (Gemini 3: not sent below 1.0)", min=0.0, max=2.0)
    max_tokens: int = opt(2048, "tokens of one trace's answer; gemini's output cap adds the thinking allowance "
                          "(thinking is billed against the cap)", min=16, max=65536)
    thinking_chosen: str = opt("auto", "gemini thinking of CHOSEN traces: " + THINKING_HELP)
    thinking_adequate: str = opt("auto", "gemini thinking of ADEQUATE traces (auto: dynamic on 2.5, high on 3)")
    thinking_rejected: str = opt("auto", "gemini thinking of REJECTED traces (auto: the least the model allows)")
    thinking_expand: str = opt("auto", "gemini thinking of prompt expansion (auto: the least the model allows)")
    include_thoughts: bool = opt(True, "gemini: ask for thought summaries (stored with each item as `thoughts`)")
    sft_thoughts: str = opt("off", "sft.jsonl: off (the answer only) or think (`<think>\\n…\\n</think>\\n\\n` then "
                            "the answer: Qwen3's reasoning format)", choices=SFT_THOUGHTS)
    safety: list[str] = opt(list(DEFAULT_SAFETY), "gemini safety_settings, one category=threshold each: " + SAFETY_FORM)
    stream: bool = opt(False, "gemini: stream traces (streamGenerateContent)")
    concurrency: int = opt(8, "traces in flight at most (halved on a 429, grown back one at a time)", min=1, max=512)
    rpm: int = opt(0, "generator requests per minute (0: no limit)", min=0, max=100000)
    retries: int = opt(6, "retries on 408/5xx/timeouts (backoff with jitter); a rate limit is waited out as the "
                       "server asks, within retry_time", min=0, max=50)
    backoff: float = opt(1.0, "first retry delay in seconds when the server names none", min=0.0, max=600.0)
    retry_time: float = opt(600.0, "seconds one trace may spend on retries and waits (quota windows included) "
                            "before it is lost for this run", min=1.0, max=86400.0)
    cap_retries: int = opt(2, "times a trace left empty by thinking (MAX_TOKENS, no text) is asked again with twice "
                           "the cap", min=0, max=5)
    timeout: float = opt(300.0, "seconds one request may take", min=0.1, max=3600.0)
    n_ctx: int = opt(2048, "local: context window", min=256, max=131072)
    threads: int = opt(0, "local: llama.cpp threads (0: half the cores, at most 4)", min=0, max=256)
    seed: int = opt(0, "sampling seed (local) and part of every item's content key")
    price_input: float = opt(-1.0, "USD per million input tokens (generator; -1: the price table's for the model)",
                             min=-1.0)
    price_output: float = opt(-1.0, "USD per million output and thinking tokens (generator; -1: the table's)",
                              min=-1.0)


def category_counts(sec: DatagenSection) -> dict[str, int]:
    """``datagen.category_counts`` as {category: N}, in the order given (empty when not set)."""
    out: dict[str, int] = {}
    for item in sec.category_counts:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or name not in CATEGORIES:
            raise ConfigError(f"datagen.category_counts: {item!r}: expected category=N with a category of "
                              f"{', '.join(CATEGORIES)}")
        try:
            n = int(raw.strip())
        except ValueError:
            raise ConfigError(f"datagen.category_counts: {item!r}: N must be a whole number ≥ 0") from None
        if n < 0:
            raise ConfigError(f"datagen.category_counts: {item!r}: N must be a whole number ≥ 0")
        if name in out:
            raise ConfigError(f"datagen.category_counts: {name} is named twice")
        out[name] = n
    return out


def category_targets(sec: DatagenSection, have: dict[str, int]) -> dict[str, int]:
    """How many prompts each category should end with, given ``have`` from the set: category_counts when
    set (exact), else per_category as a floor (the set's extra prompts are kept), else the set as is."""
    counts = category_counts(sec)
    if counts:
        return counts
    cats = list(sec.categories) or sorted(have)
    return {c: max(have.get(c, 0), sec.per_category) for c in cats}
