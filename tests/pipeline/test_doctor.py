"""`aba doctor` reports each part with a state and a fix, and never crashes on a missing part."""

from __future__ import annotations

import json

from tests.support.cli import aba


def test_doctor_reports_every_part(tmp_path):
    proc = aba("doctor", "--json", runs_dir=tmp_path, timeout=600)
    checks = {c["name"]: c for c in json.loads(proc.stdout)}
    for name in ("python", "torch", "cuda", "transformers", "trl", "peft", "llama-cpp-python", "bitsandbytes",
                 "unsloth", "nvml", "gguf converter", "embedded model", "disk"):
        assert name in checks, name
    assert checks["python"]["state"] == "ok"
    assert checks["embedded model"]["state"] == "ok" and checks["embedded model"]["detail"].endswith(".gguf")
    for c in checks.values():
        assert c["state"] in ("ok", "warn", "fail")
        if c["state"] != "ok":
            assert c["fix"], c
    assert proc.returncode == (1 if any(c["state"] == "fail" for c in checks.values()) else 0)
