"""Rate limits as the service sends them: RetryInfo in the 429 body, one shared pause, adaptive concurrency,
retries bounded by time, a spent daily quota failing fast. The real google-genai client against the stub,
with the default [judge] settings (a short quota window keeps the suite quick)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipeline.judge.config import JudgeSection
from pipeline.judge.factory import make_judge
from pipeline.judge.interface import JudgeItem
from tests.support.gemini_stub import GeminiStub, Quota


def _items(n: int, tag: str = "") -> list[JudgeItem]:
    return [JudgeItem(({"role": "user", "content": f"Question {tag}{i}?"},), f"Answer {tag}{i}.") for i in range(n)]


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "AIzaFAKE-rate-limit-key-000")


def test_a_quota_window_loses_nothing_and_no_request_comes_early(tmp_path: Path) -> None:
    with GeminiStub(quota=Quota(6, window=2.0)) as stub:
        judge = make_judge(JudgeSection(backend="gemini", base_url=stub.url, concurrency=4, cache=False),
                           cache_dir=tmp_path)
        out = judge.score(_items(16))
        assert all(j.ok for j in out)
        refused = stub.answered(429)
        assert refused, "the quota never bound: the test proves nothing"
        assert stub.early_requests() == []  # nobody went before the server's delay had passed
        led = judge.ledger.snapshot()
        assert led["retries"]["rate_limited"] == len(refused) and led["waits"] >= 1 and led["waited_s"] > 0
        # One shared pause: each window refuses only what was already in flight, never a burst of retries.
        assert len(refused) <= 4 * 3
        assert judge._pacer is not None and judge._pacer.limit.cuts >= 1  # concurrency halved on the 429
        judge.close()


def test_a_second_judge_on_the_same_model_waits_behind_the_same_pause(tmp_path: Path) -> None:
    import threading

    with GeminiStub(fault_delay=1.0) as stub:
        sec = JudgeSection(backend="gemini", base_url=stub.url, cache=False)
        a, b = make_judge(sec, cache_dir=tmp_path), make_judge(sec, cache_dir=tmp_path)
        assert a.client.gate is b.client.gate  # quotas are per project and model, not per caller
        stub.faults.append("429")
        t = threading.Thread(target=a.score, args=(_items(1, "a"),))
        t.start()
        deadline = time.monotonic() + 10
        while not stub.answered(429) and time.monotonic() < deadline:
            time.sleep(0.01)
        (j,) = b.score(_items(1, "b"))  # b never saw a 429 itself
        t.join()
        refused = stub.answered(429)[0]
        b_request = next(r for r in stub.requests if "Question b0" in str(r["body"]))
        assert j.ok and b_request["t_in"] >= refused["t_out"] + 1.0
        assert b.ledger.snapshot()["waits"] == 1 and b.ledger.snapshot()["retries"] == {}
        a.close()
        b.close()


def test_retry_after_from_a_proxy_and_backoff_without_a_hint(tmp_path: Path) -> None:
    with GeminiStub(fault_delay=0.3) as stub:
        judge = make_judge(JudgeSection(backend="gemini", base_url=stub.url, backoff=0.01, cache=False),
                           cache_dir=tmp_path)
        stub.faults.extend(["429-header", "429-bare"])
        (j,) = judge.score(_items(1))
        assert j.ok and judge.ledger.snapshot()["retries"] == {"rate_limited": 2}
        first, second, third = stub.requests[:3]
        assert second["t_in"] - first["t_out"] >= 0.3  # Retry-After: 0.3 honoured
        assert third["t_in"] - second["t_out"] < 0.3  # no hint: our own (short) backoff
        judge.close()


def test_retries_are_bounded_by_time_and_a_spent_daily_quota_fails_fast(tmp_path: Path) -> None:
    with GeminiStub(quota=Quota(2, per_day=True)) as stub:
        judge = make_judge(JudgeSection(backend="gemini", base_url=stub.url, concurrency=2, cache=False),
                           cache_dir=tmp_path)
        t = time.monotonic()
        out = judge.score(_items(8))
        assert sum(j.ok for j in out) == 2 and time.monotonic() - t < 5  # the RetryInfo of 47 s is not waited
        reasons = {(j.missing_reason or "").split(":")[0] for j in out if not j.ok}
        assert reasons == {"quota_exhausted"}
        assert "GenerateRequestsPerDayPerProjectPerModel-FreeTier" in (out[-1].missing_reason or "")
        assert len(stub.requests) <= 2 + 2  # after the first refusal nothing more is sent
        judge.close()
