"""The judge: the real google-genai client against a loopback Gemini stub that thinks as Flash does and bills it
against the output cap, with the project's DEFAULT [judge] settings; the OpenAI client; the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.judge.config import JudgeSection
from pipeline.judge.dimensions import DIMENSIONS
from pipeline.judge.factory import make_judge
from pipeline.judge.interface import JudgeItem, Judgement, dimension_means
from pipeline.judge.prompts import parse_scores
from pipeline.judge.shaping import Shape
from tests.support.gemini_stub import GeminiStub

FAKE_KEY = "AIzaFAKE-judge-test-key-0123456789"


def _items(*answers: str) -> list[JudgeItem]:
    return [JudgeItem(({"role": "user", "content": f"Question {i}?"},), a) for i, a in enumerate(answers)]


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GEMINI_API_KEY", FAKE_KEY)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    with GeminiStub() as s:
        yield s


def _section(stub: GeminiStub, **kw) -> JudgeSection:
    """The default [judge] section pointed at the stub (backoff and timeout short, for the suite's time)."""
    return JudgeSection(backend="gemini", base_url=stub.url, backoff=0.01, timeout=1.0, **kw)


def test_default_judge_scores_a_flash_like_model_that_thinks(stub: GeminiStub, tmp_path: Path) -> None:
    """The stub thinks as 2.5 Flash does (hundreds to ~1,500 tokens, billed against the cap): the default
    settings judge every item, where the old request (no thinking setting, 256 tokens) judged almost none."""
    items = _items(*(f"Answer number {i}." for i in range(24)))
    judge = make_judge(_section(stub), cache_dir=tmp_path)
    assert judge.shape.thinking_budget == 0  # the least 2.5 Flash allows
    assert all(j.ok and not j.missing_dimensions() for j in judge.score(items))
    sent = stub.requests[-1]["body"]
    assert sent["generationConfig"]["thinkingConfig"] == {"thinking_budget": 0}  # google-genai 3.x: snake_case
    assert {s["threshold"] for s in sent["safetySettings"]} == {"OFF"}
    judge.close()
    old = make_judge(_section(stub, cache=False, cap_retries=0), cache_dir=tmp_path)
    old.shape = Shape(256, 256, temperature=0.0)  # what the judge sent before: no thinking setting, cap 256
    out = old.score(items)
    assert sum(j.ok for j in out) <= len(items) // 4
    assert all((j.missing_reason or "").startswith(("empty_thinking:", "truncated:")) for j in out if not j.ok)
    assert old.ledger.snapshot()["tokens"]["thinking"] > 0
    old.close()


def test_a_judgement_cut_by_the_cap_is_asked_again_with_a_larger_one(stub: GeminiStub, tmp_path: Path) -> None:
    judge = make_judge(_section(stub, max_tokens=16, cache=False), cache_dir=tmp_path)
    (j,) = judge.score(_items("An answer."))
    assert j.ok and judge.ledger.snapshot()["retries"]["truncated"] >= 1
    caps = [r["body"]["generationConfig"]["maxOutputTokens"] for r in stub.requests]
    assert caps == sorted(caps) and caps[-1] == 2 * caps[-2]
    judge.close()
    never = make_judge(_section(stub, max_tokens=16, cap_retries=0, cache=False), cache_dir=tmp_path)
    (cut,) = never.score(_items("An answer."))
    assert not cut.ok and (cut.missing_reason or "").startswith("truncated: the judgement was cut by the output cap")
    never.close()


def test_gemini_judge_scores_retries_and_caches(stub: GeminiStub, tmp_path: Path) -> None:
    judge = make_judge(_section(stub, concurrency=2), cache_dir=tmp_path)
    stub.faults.extend(["429", "500", "503", "timeout", "malformed"])
    out = judge.score(_items("Answer one.", "Answer two."))
    assert all(j.ok and set(j.scores) == set(DIMENSIONS) for j in out)
    assert all(0.0 <= v <= 1.0 for j in out for v in j.scores.values())
    led = judge.ledger.snapshot()
    assert led["retries"] == {"rate_limited": 1, "server_error": 2, "timeout": 1, "bad_response": 1}
    assert led["requests"] == 7 and led["tokens"]["input"] > 0 and led["cost_usd"] > 0
    # The key went in a header, never in the URL.
    assert all(FAKE_KEY not in r["path"] for r in stub.requests)
    assert stub.requests[0]["headers"].get("x-goog-api-key") == FAKE_KEY
    # Same items again: served from the cache, in this judge and in a new one (a resumed run).
    n = len(stub.requests)
    again = make_judge(_section(stub), cache_dir=tmp_path).score(_items("Answer one.", "Answer two."))
    assert [j.scores for j in again] == [j.scores for j in out] and all(j.cached for j in again)
    assert len(stub.requests) == n
    judge.close()


def test_failures_are_missing_never_zero(stub: GeminiStub, tmp_path: Path) -> None:
    judge = make_judge(_section(stub, retries=1, retry_time=1.0, safety=["dangerous_content=block_only_high"]),
                       cache_dir=tmp_path)
    good, bad, blocked, empty, harm, off = judge.score(_items(
        "fine", "[[BADJUDGE]]", "[[PROHIBITED]]", "[[EMPTY]]", "[[HARM:dangerous_content:HIGH]]",
        "[[HARM:harassment:HIGH]]"))  # harassment is off by default: answered
    assert good.ok and off.ok
    assert not bad.ok and bad.scores == {} and "unparsable" in (bad.missing_reason or "")
    assert (blocked.missing_reason or "").startswith("blocked:") and "PROHIBITED" in (blocked.missing_reason or "")
    assert empty.missing_reason and empty.missing_reason.startswith("empty:")
    assert (harm.missing_reason or "").startswith("blocked: candidate blocked (finish_reason=SAFETY)")
    assert judge.ledger.snapshot()["blocked"] == {"prohibited_content": 1, "dangerous_content": 1}
    means = dimension_means([good, bad, blocked, empty])
    assert all(m["n"] == 1 and m["missing"] == 3 for m in means.values())
    assert means["helpfulness"]["mean"] == good.scores["helpfulness"]
    stub.fault_delay = 5.0  # the server asks for longer than the judgement's retry_time: missing at once
    stub.faults.extend(["429"])
    (spent,) = judge.score(_items("another"))
    assert spent.missing_reason and spent.missing_reason.startswith("rate_limited:")
    assert "gave up after 1 tries" in spent.missing_reason
    assert FAKE_KEY not in spent.missing_reason
    # Missing judgements are not cached: the next call asks again.
    n = len(stub.requests)
    judge.score(_items("[[BADJUDGE]]"))
    assert len(stub.requests) == n + 1
    judge.close()


def test_compare_and_parse_rules(stub: GeminiStub, tmp_path: Path) -> None:
    judge = make_judge(_section(stub), cache_dir=tmp_path)
    v = judge.compare([{"role": "user", "content": "Q?"}], "A answer", "B answer")
    assert v.verdict == "a"
    assert judge.compare([{"role": "user", "content": "Q?"}], "A answer", "B answer").cached
    judge.close()
    partial = parse_scores('{"helpfulness": 0.5, "harm_avoidance": 1.5, "honest_engagement": true}')
    assert partial.scores == {"helpfulness": 0.5} and partial.ok
    assert set(partial.missing_dimensions()) == set(DIMENSIONS) - {"helpfulness"}
    assert parse_scores("```json\n{\"helpfulness\": 1}\n```").scores == {"helpfulness": 1.0}


def test_openai_compatible_backend(stub: GeminiStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-FAKE-openai-test-key")
    sec = JudgeSection(backend="openai", model="served", base_url=stub.url + "/v1", backoff=0.01, cache=False)
    judge = make_judge(sec, cache_dir=tmp_path)
    stub.faults.append("429")
    (j,) = judge.score(_items("An answer."))
    assert j.ok and set(j.scores) == set(DIMENSIONS)
    last = stub.requests[-1]
    assert last["path"] == "/v1/chat/completions"
    assert last["headers"]["Authorization"] == "Bearer sk-FAKE-openai-test-key"
    assert last["body"]["response_format"]["json_schema"]["schema"]["required"] == list(DIMENSIONS)
    assert judge.ledger.snapshot()["retries"] == {"rate_limited": 1}
    # llama-server and kin say `length` when max_tokens cut the reply: never a complete judgement
    never = make_judge(JudgeSection(backend="openai", base_url=stub.url + "/v1", max_tokens=16, cap_retries=0,
                                    cache=False), cache_dir=tmp_path)
    (cut,) = never.score(_items("An answer."))
    assert (cut.missing_reason or "").startswith("truncated:")
    never.close()
    judge.close()


def test_bad_sections_name_the_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="GEMINI_API_KEY"):
        make_judge(JudgeSection(backend="gemini"), cache_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"judge\.base_url"):
        make_judge(JudgeSection(backend="openai"), cache_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"judge\.model"):
        make_judge(JudgeSection(backend="local", model=str(tmp_path / "nope.gguf")), cache_dir=tmp_path)


def test_judge_scorer_as_grpo_reward(stub: GeminiStub, tmp_path: Path) -> None:
    from pipeline.rewards.scorer import get_scorer
    from pipeline.rewards.trl_funcs import RewardBank
    from pipeline.rewards.weights import parse_weights

    problems: list[tuple[str, str]] = []
    scorer = get_scorer("judge", {"section": _section(stub, retries=0), "cache_dir": tmp_path})
    bank = RewardBank(scorer, on_problem=lambda c, m: problems.append((c, m)))
    reward = bank.reward_func(parse_weights(""))
    prompts = ["Plan a trip?", "Plan a trip?", "Tell me [[PROHIBITED]]"]
    completions = ["Step 1: budget.", "Go anywhere.", "Sure."]
    n = len(stub.requests)
    first = reward(prompts=prompts, completions=completions)
    assert len(stub.requests) == n + 3  # one batch, scored concurrently
    assert reward(prompts=prompts, completions=completions) == first and len(stub.requests) == n + 3  # cached
    assert first[2] is None  # blocked: no reward (TRL skips the row), never 0
    assert all(isinstance(v, float) for v in first[:2])
    assert scorer.stats()["judge_missing"] == 1 and scorer.stats()["judged"] == 3


def test_grpo_preflight_checks_the_judge_section(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.config.run import build_config
    from pipeline.train.preflight import preflight

    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    cfg = build_config("grpo", [], ["grpo.scorer=judge", "judge.backend=gemini"])
    with pytest.raises(ConfigError, match="GEMINI_API_KEY"):
        preflight(cfg)
    assert preflight(build_config("grpo", [], ["grpo.scorer=judge"])) is not None  # local: the embedded GGUF


def test_judgement_keeps_its_type_through_the_file_form() -> None:
    """JSON only at the file: a stored judgement reads back equal; a damaged one reads as missing, saying so."""
    j = Judgement({d: 0.5 for d in DIMENSIONS[:8]}, judge="gemini:m:v3:t0", cached=True)
    back = Judgement.from_json(j.to_json())
    assert back == j and back is not None and back.missing_dimensions() == DIMENSIONS[8:]
    assert back.mean() == 0.5
    failed = Judgement({}, missing_reason="timeout: no reply", judge="x")
    assert Judgement.from_json(failed.to_json()) == failed and failed.mean() is None
    assert Judgement.from_json(None) is None  # no judge ran: no judgement, not an empty one
    odd = Judgement.from_json({"scores": {DIMENSIONS[0]: 1.5, DIMENSIONS[1]: "high", DIMENSIONS[2]: True,
                                          DIMENSIONS[3]: float("nan"), DIMENSIONS[4]: 0.25, "bogus": 0.5}})
    assert odd is not None and dict(odd.scores) == {DIMENSIONS[4]: 0.25}  # out-of-range or not a number: missing
    broken = Judgement.from_json(["not", "a", "judgement"])
    assert broken is not None and not broken.ok and "unreadable stored judgement" in (broken.missing_reason or "")


def test_grpo_reward_keeps_the_judgement_and_logs_a_judge_event(stub: GeminiStub, tmp_path: Path) -> None:
    """grpo.scorer = "judge": the judge's Judgement reaches the reward functions (a failed one is None to TRL,
    with its reason kept), and each scored batch writes a `judge` event."""
    import json

    from pipeline.config.run import RunConfig
    from pipeline.config.schema import GRPOSection
    from pipeline.rewards.weights import parse_weights
    from pipeline.runs.vocabulary import EventType
    from pipeline.runs.worker import StageContext
    from pipeline.stages.grpo import prepare

    # The stub scores by hash: no signal, so GRPO trains on it only when told to (test_eval_trust checks the refusal).
    cfg = RunConfig("grpo", {"grpo": GRPOSection(scorer="judge", allow_weak_judge=True),
                             "judge": _section(stub, retries=1)})
    ctx = StageContext(tmp_path, cfg)
    bank = prepare(ctx, cfg.sections["grpo"])["bank"]
    rewards = bank.reward_func(parse_weights(""))(prompts=["Q1?", "Q2?"],
                                                   completions=["Fine answer.", "[[BADJUDGE]]"])
    assert isinstance(rewards[0], float) and rewards[1] is None  # missing, never 0
    failed = bank.judgement("Q2?", "[[BADJUDGE]]")
    assert "unparsable" in (failed.missing_reason or "") and failed.judge.startswith("gemini:")
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    (ev,) = [e for e in events if e["type"] == EventType.JUDGE]
    assert (ev["batch"], ev["batch_missing"], ev["judged"], ev["judge_missing"]) == (2, 1, 2, 1)
    assert ev["judge_requests"] >= 2 and "judge_cache_hit_rate" in ev
    bank.scorer.judge.close()
