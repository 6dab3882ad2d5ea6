"""How the end of a worker is read: exit codes, signals, stderr and the worker's own result."""

from __future__ import annotations

from pipeline.runs.classify import classify, last_error

TRACE = """Traceback (most recent call last):
  File "x.py", line 3, in <module>
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB
"""


def test_success():
    out = classify(0, "", False)
    assert (out.state, out.exit_code, out.signal, out.reason) == ("succeeded", 0, None, None)


def test_torch_oom_in_stderr():
    out = classify(1, TRACE, False)
    assert out.state == "oom" and out.reason.startswith("torch.OutOfMemoryError: CUDA out of memory")


def test_kernel_oom_killer_only_when_the_cgroup_counter_moved():
    assert classify(-9, "", False, oom_killed=True).state == "oom"
    plain = classify(-9, "", False, oom_killed=False)
    assert plain.state == "failed" and plain.signal == 9 and "SIGKILL" in plain.reason


def test_stop_wins_over_exit_status():
    assert classify(-15, "", True).state == "stopped"
    assert classify(0, "", True).state == "stopped"
    assert "grace" in classify(-9, "", True).reason


def test_worker_result_reason_is_preferred():
    out = classify(3, "noise\n", False, {"state": "failed", "reason": "NaN loss at step 12"})
    assert (out.state, out.reason) == ("failed", "NaN loss at step 12")


def test_failed_reason_is_the_last_error_line():
    err = "warning: x\nTraceback...\nKeyError: 'prompt'\n  during handling\nValueError: bad row 3\n\n"
    assert classify(1, err, False).reason == "ValueError: bad row 3"
    assert last_error("just text\n") == "just text"
    assert classify(7, "", False).reason == "exited with code 7"
