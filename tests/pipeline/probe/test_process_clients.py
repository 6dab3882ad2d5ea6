"""The UI's process clients (pipeline/chat/baseline_client.py, pipeline/probe/client.py):
real subprocesses, typed results, and one clear ProbeError/BaselineError for each way they fail."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from pipeline.chat.baseline_client import BaselineError, prepare_baseline
from pipeline.probe.client import ProbeClient, ProbeError, _progress, read_result


def test_a_baseline_converter_that_cannot_start_is_one_error() -> None:
    with pytest.raises(BaselineError, match=r"exit 1: .*No module named pipeline\.no_such_converter"):
        prepare_baseline(module="pipeline.no_such_converter")


@pytest.mark.slow
def test_the_baseline_client_returns_the_f16_gguf() -> None:
    from pipeline.export import baseline_gguf_path

    got = prepare_baseline()
    assert got.path == baseline_gguf_path() and got.path.is_file() and got.path.stat().st_size > 1e6


@pytest.mark.slow
def test_the_baseline_at_an_exports_quantisation_is_quantised_from_the_f16_and_verified() -> None:
    import json

    from pipeline.export import baseline_gguf_path

    got = prepare_baseline(quant="Q8_0")  # any spelling of a known quantisation
    meta = json.loads(got.path.with_suffix(".json").read_text())
    assert got.path == baseline_gguf_path("q8_0") and got.path.name.endswith("-q8_0.gguf")
    assert meta["quant"] == "q8_0" and meta["verify"]["ok"]
    assert got.path.stat().st_size < baseline_gguf_path("f16").stat().st_size * 0.6
    with pytest.raises(BaselineError, match="unknown quantisation 'q3'"):
        prepare_baseline(quant="q3")


def test_probe_argv_progress_and_result_file(tmp_path: Path) -> None:
    run = tmp_path / "run"
    ckpt = run / "checkpoints" / "checkpoint-0010"
    client = ProbeClient([ckpt], run, "collapse", max_new_tokens=8)
    argv = client.argv()
    assert argv[1:3] == ["-m", "pipeline.probe.worker"] and argv[-1] == str(ckpt)
    assert argv.count("--prompt") == 3 and client.out.parent == run / "probes"
    assert _progress('{"done": 1, "total": 2, "name": "checkpoint-0010"}\n').done == 1  # type: ignore[union-attr]
    assert _progress("Loading checkpoint shards: 100%\n") is None  # a library's chatter is not progress
    good = tmp_path / "probe.json"
    good.write_text(json.dumps({"prompts": ["hi"], "checkpoints": [
        {"run_id": "r", "name": "checkpoint-0010", "path": str(ckpt), "error": None, "seconds": 1.5, "collapsed": 1,
         "answers": [{"prompt": "hi", "answer": "!!!!", "collapse": {"collapsed": True,
                                                                    "findings": [{"message": "char run"}]}}]}]}))
    result = read_result(good, "collapse")
    assert result.entries[0].key == "r/checkpoint-0010" and result.entries[0].answers[0].findings == ("char run",)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"prompts": ["hi"], "checkpoints": [{"name": "x"}]}))
    with pytest.raises(ProbeError, match=r"bad\.json: not a probe result"):
        read_result(bad)
    with pytest.raises(ProbeError, match="nothing to probe"):
        ProbeClient([], run)


def test_a_stopped_probe_is_a_probe_error_and_its_process_is_gone(tmp_path: Path) -> None:
    run = tmp_path / "run"
    client = ProbeClient([run / "checkpoints" / "checkpoint-0001"], run, max_new_tokens=4)
    outcome: list[BaseException] = []

    def go() -> None:
        try:
            client.run()
        except ProbeError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=go)
    thread.start()
    deadline = time.monotonic() + 30
    while client._proc is None and time.monotonic() < deadline:
        time.sleep(0.01)
    client.stop()
    thread.join(60)
    assert [str(e) for e in outcome] == ["probe stopped"]
    assert client._proc is not None and client._proc.poll() is not None
