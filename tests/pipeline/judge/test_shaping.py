"""The request shaper, the price table and the 429 reader: pure rules, checked against the service's documents."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.judge.failures import day_quota, http_error, parse_duration, server_delay
from pipeline.judge.families import family_of
from pipeline.judge.prices import PRICES, price_for
from pipeline.judge.shaping import DEFAULT_SAFETY, parse_safety, shape_request


def shape(model: str, thinking: str = "auto", use: str = "chosen", answer: int = 2048, temperature: float = 0.8,
          **kw: object):
    return shape_request("gemini", model, thinking=thinking, answer_tokens=answer, temperature=temperature, use=use,
                         key="datagen.thinking_x", **kw)  # type: ignore[arg-type]


def test_families_by_pattern_and_override() -> None:
    assert family_of("gemini-2.5-flash").name == "2.5-flash"  # type: ignore[union-attr]
    assert family_of("models/gemini-2.5-flash-lite-preview-09-2025").name == "2.5-flash-lite"  # type: ignore[union-attr]
    assert family_of("publishers/google/models/gemini-2.5-pro").name == "2.5-pro"  # type: ignore[union-attr]
    assert family_of("gemini-3.1-pro-preview").name == "3.x-pro"  # type: ignore[union-attr]
    assert family_of("gemini-3-pro-preview").name == "3-pro"  # type: ignore[union-attr]
    assert family_of("gemini-3-flash-preview").name == "3.x-flash"  # type: ignore[union-attr]
    assert family_of("my-tuned-model") is None
    assert family_of("my-tuned-model", "2.5-pro").name == "2.5-pro"  # type: ignore[union-attr]


def test_the_cap_always_holds_thinking_and_the_answer() -> None:
    for model in ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite", "gemini-3.1-pro-preview",
                  "gemini-3-flash-preview", "unknown-model"):
        for use in ("chosen", "adequate", "rejected", "expand", "judge"):
            s = shape(model, use=use, answer=512)
            assert s.max_output_tokens == s.thinking_tokens + 512 <= 65536
            if s.thinking_budget is not None and s.thinking_budget > 0:
                assert s.thinking_budget < s.max_output_tokens - 512  # never a budget at or above the cap
    assert shape("gemini-2.5-flash", "dynamic").thinking_tokens == 8192  # the documented dynamic ceiling
    flash = shape("gemini-2.5-flash", "4096")
    assert flash.thinking_budget == 4096 and flash.thinking_tokens > 4096  # budgets are soft: headroom
    assert shape("gemini-2.5-flash", "off").thinking_tokens == 0
    with pytest.raises(ConfigError, match=r"exceed gemini-2\.5-pro's output limit of 65536"):
        shape("gemini-2.5-pro", "32768", answer=40000)


def test_least_thinking_per_model_and_gemini3_levels() -> None:
    assert shape("gemini-2.5-flash", "min").thinking_budget == 0
    assert shape("gemini-2.5-pro", "min").thinking_budget == 128
    assert shape("gemini-2.5-pro", "auto", use="judge").thinking_budget == 128  # never 0 to a Pro model
    g3 = shape("gemini-3.1-pro-preview", "min", use="judge", temperature=0.0)
    assert g3.thinking_level == "low" and g3.thinking_budget is None
    assert g3.temperature is None and any("temperature 0" in n for n in g3.notes)  # Gemini 3 wants 1.0
    assert shape("gemini-3.1-pro-preview", "auto").thinking_level == "high"
    assert shape("gemini-3-flash-preview", "min").thinking_level == "minimal"
    assert shape("gemini-2.5-flash", "default").thinking_budget is None  # nothing sent: the model's own default
    # include_thoughts only where thinking is on (Vertex AI refuses it with budget 0)
    assert shape("gemini-2.5-flash", "4096", include_thoughts=True).include_thoughts
    assert not shape("gemini-2.5-flash", "off", include_thoughts=True).include_thoughts
    # other backends: the cap is the answer's, no thinking, no safety
    local = shape_request("local", "m.gguf", thinking="4096", answer_tokens=96, temperature=0.8, use="chosen", key="k")
    assert (local.max_output_tokens, local.thinking_budget, local.safety) == (96, None, ())


@pytest.mark.parametrize("model, setting, says", [
    ("gemini-2.5-pro", "0", "Budget 0 is invalid. This model only works in thinking mode."),
    ("gemini-2.5-pro", "off", "cannot switch thinking off"),
    ("gemini-2.5-pro", "64", "The thinking budget (64) is invalid."),
    ("gemini-2.5-flash", "30000", "The thinking budget (30000) is invalid."),
    ("gemini-2.5-flash-lite", "100", "The thinking budget (100) is invalid."),
    ("gemini-2.5-flash", "high", "Thinking level is not supported for this model."),
    ("gemini-3.1-pro-preview", "4096", "takes a thinking level, not a budget"),
    ("gemini-3.1-pro-preview", "off", "cannot switch thinking off"),
    ("gemini-3.1-pro-preview", "minimal", "does not take the thinking level 'minimal'"),
    ("gemini-2.5-flash", "lots", "has no such thinking setting"),
])
def test_values_the_model_refuses_are_one_clear_line(model: str, setting: str, says: str) -> None:
    with pytest.raises(ConfigError) as exc:
        shape(model, setting)
    msg = str(exc.value)
    assert msg.startswith(f"datagen.thinking_x={setting!r}: {model}") and says in msg and "expected" in msg
    assert "\n" not in msg


def test_safety_settings_per_category() -> None:
    assert parse_safety(DEFAULT_SAFETY, "judge.safety") == tuple(
        (f"HARM_CATEGORY_{c}", "OFF") for c in ("HARASSMENT", "HATE_SPEECH", "SEXUALLY_EXPLICIT", "DANGEROUS_CONTENT"))
    assert parse_safety(["dangerous_content=block_only_high"], "k") == (("HARM_CATEGORY_DANGEROUS_CONTENT",
                                                                          "BLOCK_ONLY_HIGH"),)
    for bad, says in (("violence=off", "judge.safety[0]='violence=off': expected category=threshold"),
                      ("harassment=block_some", "threshold one of off"), ("harassment", "expected")):
        with pytest.raises(ConfigError) as exc:
            parse_safety([bad], "judge.safety")
        assert says in str(exc.value)
    with pytest.raises(ConfigError, match="set twice"):
        parse_safety(["harassment=off", "harassment=block_none"], "judge.safety")
    assert any("deprecated" in n for n in shape("gemini-2.5-flash", safety=["civic_integrity=off"]).notes)


def test_prices_per_model_thinking_billed_as_output() -> None:
    flash, pro = PRICES["2.5-flash"], PRICES["2.5-pro"]
    assert flash.output / pro.output == pytest.approx(0.25)  # 2.5 Flash is about a quarter of 2.5 Pro
    assert pro.cost(100_000, 1_000) == pytest.approx((100_000 * 1.25 + 1_000 * 10.0) / 1e6)
    assert pro.cost(300_000, 1_000) == pytest.approx((300_000 * 2.50 + 1_000 * 15.0) / 1e6)  # long-prompt tier
    assert price_for("2.5-flash", 1.0, -1.0).output == 2.50 and price_for("2.5-flash", 1.0, -1.0).input == 1.0
    assert price_for(None) is None and price_for(None, 0.5, 1.0).output == 1.0


def test_reading_a_429_as_the_service_writes_it() -> None:
    assert parse_duration("45.837906927s") == pytest.approx(45.837906927) and parse_duration("20s") == 20.0
    body = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
         "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "58s"}]}}
    # The body rounds down; the message has the exact wait: the longer one is honoured.
    assert server_delay(body, "… Please retry in 58.934310785s.") == pytest.approx(58.934310785)
    assert server_delay(body, "") == 58.0 and server_delay({}, "nothing") is None
    err = http_error(429, "quota", body=body)
    assert err.kind == "rate_limited" and err.transient and err.retry_after == 58.0
    assert http_error(429, "busy", retry_after="7").retry_after == 7.0  # a proxy's Retry-After
    day = {"error": {"details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
        {"quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"},
        {"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}]}}
    assert day_quota(day, "") == "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
    fatal = http_error(429, "quota", body=day)
    assert fatal.kind == "quota_exhausted" and fatal.fatal and not fatal.transient and "midnight Pacific" in str(fatal)
    assert http_error(503, "overloaded").transient and not http_error(400, "bad").transient


def test_the_docs_recommend_what_the_shaper_does() -> None:
    from pipeline.judge.settings_table import markdown
    from tests.support.paths import REPO

    doc = (REPO / "docs" / "datagen.md").read_text(encoding="utf-8")
    assert markdown() in doc, "docs/datagen.md: paste `python -m pipeline.judge.settings_table`"
