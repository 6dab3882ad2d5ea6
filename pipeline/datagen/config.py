"""The [datagen] config section: prompts, the generator model and how hard it may be driven."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config.schema import opt
from pipeline.judge.config import BACKENDS

CATEGORIES = ("safety", "complexity", "multiturn", "conflict", "calibration")


@dataclass
class DatagenSection:
    prompts: str = opt("builtin:starter", "prompt set: builtin:<name> or a JSONL of {id, category, turns}")
    categories: list[str] = opt([], "categories to use (empty: all of " + ", ".join(CATEGORIES) + ")")
    per_category: int = opt(0, "prompts per category: more than the set has are written by the generator "
                            "(deduplicated); 0: use the set as is", min=0, max=100000)
    max_prompts: int = opt(0, "use at most this many prompts (0: all)", min=0)
    traces: int = opt(4, "traces per prompt (seed 000: 4–8), cycling CHOSEN, REJECTED, ADEQUATE", min=3, max=64)
    judge: bool = opt(True, "score every trace with the [judge] section (a separate call)")
    pair_margin: float = opt(0.1, "DPO pairs ranked by judge score: minimum mean-score margin", min=0.0, max=1.0)
    backend: str = opt("local", "generator: local (GGUF via llama-cpp-python), gemini or openai", choices=BACKENDS)
    model: str = opt("", "local: a .gguf (empty: the embedded model); gemini: a model id "
                     "(empty: gemini-2.5-flash); openai: the served model")
    base_url: str = opt("", "gemini: endpoint override; openai: server URL, e.g. http://127.0.0.1:8080/v1")
    api_key_env: str = opt("", "name of the environment variable holding the key (never the key itself)")
    vertex_project: str = opt("", "gemini on Vertex AI: the project")
    vertex_location: str = opt("us-central1", "gemini on Vertex AI: the location")
    temperature: float = opt(0.8, "sampling temperature of traces", min=0.0, max=2.0)
    max_tokens: int = opt(1024, "max output tokens of one trace", min=16, max=65536)
    thinking_chosen: int = opt(8192, "thinking budget of CHOSEN traces (Gemini; -1: model default)", min=-1)
    thinking_adequate: int = opt(-1, "thinking budget of ADEQUATE traces (-1: model default)", min=-1)
    thinking_rejected: int = opt(0, "thinking budget of REJECTED traces (0: none)", min=-1)
    stream: bool = opt(False, "gemini: stream traces (streamGenerateContent)")
    concurrency: int = opt(8, "traces in flight at once", min=1, max=512)
    rpm: int = opt(0, "generator requests per minute (0: no limit)", min=0, max=100000)
    retries: int = opt(4, "retries on 408/429/5xx/timeouts (backoff with jitter, Retry-After honoured)",
                       min=0, max=20)
    backoff: float = opt(1.0, "first retry delay in seconds", min=0.0, max=600.0)
    timeout: float = opt(300.0, "seconds one request may take", min=0.1, max=3600.0)
    n_ctx: int = opt(2048, "local: context window", min=256, max=131072)
    threads: int = opt(0, "local: llama.cpp threads (0: half the cores, at most 4)", min=0, max=256)
    seed: int = opt(0, "sampling seed (local) and part of every item's content key")
    price_input: float = opt(1.25, "USD per million input tokens (generator)", min=0.0)
    price_output: float = opt(10.0, "USD per million output and thinking tokens (generator)", min=0.0)
