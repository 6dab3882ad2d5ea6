"""The type check: mypy over aba_tui and pipeline with the strictness configured in pyproject.toml
([tool.mypy]; docs/architecture.md "Types" says what it enforces). New code must keep passing it."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.support.paths import REPO as ROOT

# Every suppression must name its error code (mypy enforces that: ignore-without-code), and there
# should only be a few: the ones that name a gap in a third-party library's types.
MAX_IGNORES = 5
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


def test_typed_vocabularies_match_what_the_code_uses() -> None:
    """The Literal types the checker relies on stay equal to the tables they describe."""
    from typing import get_args

    from aba_tui.settings import SECTIONS
    from pipeline import registry
    from pipeline.config.schema import section_fields
    from pipeline.runs.status import ACTIVE, STATES, TERMINAL

    assert {s.name for s in registry.BUILTIN} == set(get_args(registry.BuiltinStage)), \
        "a built-in stage was added or renamed: update pipeline.registry.BuiltinStage"
    assert set(STATES) >= TERMINAL | ACTIVE and not TERMINAL & ACTIVE
    # Every config field (run sections and the app's settings) has a type the coercion knows;
    # section_fields raises TypeError naming the field otherwise.
    for cls in [*registry.sections().values(), *SECTIONS.values()]:
        assert section_fields(cls)
