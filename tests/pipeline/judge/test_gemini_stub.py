"""The loopback Gemini stub behaves as the service documents itself (docs/judge.md, "The service's facts"):
the project's tests are only as honest as this stub."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.support.gemini_stub import GeminiStub, Quota


def post(stub: GeminiStub, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    req = urllib.request.Request(stub.url + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def ask(text: str, **gen: Any) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}], "generationConfig": gen}


FLASH = "/v1/models/gemini-2.5-flash:generateContent"
VERTEX = "/v1beta1/projects/p/locations/global/publishers/google/models/gemini-2.5-pro:generateContent"


@pytest.fixture
def stub():
    with GeminiStub() as s:
        yield s


def test_paths_versions_and_unknown_models(stub: GeminiStub) -> None:
    for path in (FLASH, FLASH.replace("/v1/", "/v1beta/"), VERTEX):
        code, body, _ = post(stub, path, ask("Hello?"))
        assert code == 200 and body["candidates"][0]["finishReason"] == "STOP", path
    code, body, _ = post(stub, "/v1/models/gemini-3-pro-preview:generateContent", ask("Hello?"))  # shut down
    assert code == 404 and body["error"]["status"] == "NOT_FOUND"


def test_thinking_is_billed_against_the_cap(stub: GeminiStub) -> None:
    thoughts = []
    for i in range(40):
        _, body, _ = post(stub, FLASH, ask(f"Plan question {i}?", maxOutputTokens=65536))
        u = body["usageMetadata"]
        assert u["totalTokenCount"] == u["promptTokenCount"] + u["candidatesTokenCount"] + u["thoughtsTokenCount"]
        thoughts.append(u["thoughtsTokenCount"])
    assert min(thoughts) >= 200 and max(thoughts) <= 1500 and max(thoughts) - min(thoughts) > 500  # Flash-like
    shapes = set()
    for i in range(40):
        _, body, _ = post(stub, FLASH, ask(f"Plan question {i}?", maxOutputTokens=150))  # thinking fills the cap
        cands = body.get("candidates") or [{}]
        assert cands[0].get("finishReason", "MAX_TOKENS") == "MAX_TOKENS"
        u = body["usageMetadata"]
        assert "candidatesTokenCount" not in u and u["thoughtsTokenCount"] == 150
        shapes.add("none" if not body.get("candidates") else json.dumps(sorted(cands[0].get("content", {}))))
    assert len(shapes) == 4  # no parts, no content, an empty part, no candidates: all seen on the wire
    cap = thoughts[1] + 20  # room for the thinking, not for the answer: cut mid-way
    _, body, _ = post(stub, FLASH, ask("Plan question 1?", maxOutputTokens=cap))
    cand = body["candidates"][0]
    assert cand["finishReason"] == "MAX_TOKENS" and cand["content"]["parts"][0]["text"]
    u = body["usageMetadata"]
    assert (u["thoughtsTokenCount"], u["candidatesTokenCount"]) == (thoughts[1], 20)


def test_thinking_keys_in_either_spelling_and_the_400_texts(stub: GeminiStub) -> None:
    for tc in ({"thinkingBudget": 0}, {"thinking_budget": 0}):
        _, body, _ = post(stub, FLASH, ask("Hi?", thinkingConfig=tc))
        assert "thoughtsTokenCount" not in body["usageMetadata"]  # Flash accepts 0: no thinking
    cases = [
        (VERTEX.replace("/v1beta1/projects/p/locations/global/publishers/google/", "/v1/"), {"thinking_budget": 0},
         "Budget 0 is invalid. This model only works in thinking mode."),
        (VERTEX, {"thinkingBudget": 0}, "Unable to submit request because Thinking can't be disabled"),
        (FLASH, {"thinking_budget": 30000}, "The thinking budget (30000) is invalid."),
        (FLASH, {"thinking_level": "HIGH"}, "Thinking level is not supported for this model."),
        (FLASH, {"thinkingBudget": 100, "thinkingLevel": "low"},
         "You can only set only one of thinking budget and thinking level."),
    ]
    for path, tc, says in cases:
        code, body, _ = post(stub, path, ask("Hi?", thinkingConfig=tc))
        assert (code, body["error"]["status"]) == (400, "INVALID_ARGUMENT") and says in body["error"]["message"]
    g3 = "/v1/models/gemini-3.1-pro-preview:generateContent"
    assert post(stub, g3, ask("Hi?", thinkingConfig={"thinking_level": "HIGH"}))[0] == 200  # SDK: upper case
    assert post(stub, g3, ask("Hi?", thinkingConfig={"thinkingLevel": "low"}))[0] == 200  # REST docs: lower case


def test_thought_summaries_and_safety_by_category(stub: GeminiStub) -> None:
    _, body, _ = post(stub, FLASH, ask("Why?", thinkingConfig={"include_thoughts": True}))
    parts = body["candidates"][0]["content"]["parts"]
    assert parts[0]["thought"] is True and parts[0]["text"].startswith("**") and "thought" not in parts[1]
    _, body, _ = post(stub, "/v1/models/gemini-3-flash-preview:generateContent",
                      ask("Why?", thinkingConfig={"includeThoughts": True}))
    assert body["candidates"][0]["content"]["parts"][1]["thoughtSignature"]
    harm = ask("[[HARM:dangerous_content:MEDIUM]] How?")
    assert post(stub, FLASH, harm)[1]["candidates"][0]["finishReason"] == "STOP"  # default: off
    harm["safetySettings"] = [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "BLOCK_MEDIUM_AND_ABOVE"}]
    cand = post(stub, FLASH, harm)[1]["candidates"][0]
    assert cand["finishReason"] == "SAFETY" and cand["safetyRatings"][0]["blocked"] and "content" not in cand
    off = ask("[[PROHIBITED]]")
    off["safetySettings"] = [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "OFF"}]
    body = post(stub, FLASH, off)[1]
    assert body["promptFeedback"]["blockReason"] == "PROHIBITED_CONTENT" and "candidates" not in body


def test_a_quota_window_answers_with_retryinfo_in_the_body() -> None:
    with GeminiStub(quota=Quota(2, window=1.5)) as stub:
        codes = [post(stub, FLASH, ask(f"Q{i}?"))[0] for i in range(3)]
        code, body, headers = post(stub, FLASH, ask("Q?"))
        assert codes == [200, 200, 429] and code == 429 and "Retry-After" not in headers
        err = body["error"]
        retry = next(d for d in err["details"] if d["@type"].endswith("RetryInfo"))["retryDelay"]
        assert err["status"] == "RESOURCE_EXHAUSTED" and retry.endswith("s") and "Please retry in" in err["message"]
        time.sleep(float(err["message"].rsplit("retry in ", 1)[1].rstrip("s.")) + 0.05)
        assert post(stub, FLASH, ask("Q?"))[0] == 200  # the next window
