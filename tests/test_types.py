"""The type check: mypy over aba_tui and pipeline with the strictness configured in pyproject.toml
([tool.mypy]; docs/architecture.md "Types" says what it enforces). New code must keep passing it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Every suppression must name its error code (mypy enforces that: ignore-without-code), and there
# should only be a few: the ones that name a gap in a third-party library's types.
MAX_IGNORES = 54
IGNORE = re.compile(r"#\s*type:\s*ignore")


def test_mypy_passes_on_both_packages() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(ROOT / ".mypy_cache"), "aba_tui", "pipeline"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"mypy found type errors:\n{proc.stdout}{proc.stderr}"
    assert "Success" in proc.stdout


def test_type_ignores_stay_few() -> None:
    found = [f"{p.relative_to(ROOT)}:{i}" for pkg in ("aba_tui", "pipeline") for p in sorted((ROOT / pkg).rglob("*.py"))
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if IGNORE.search(line)]
    assert len(found) <= MAX_IGNORES, (
        f"{len(found)} '# type: ignore' comments (at most {MAX_IGNORES}): fix the types instead of silencing them\n"
        + "\n".join(found))
