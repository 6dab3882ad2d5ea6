"""The README leads a newcomer: its first screen says what to type after the demo, it links every doc
and names every preset; user docs speak about the tool, not about how it was built (no issue numbers)."""

from __future__ import annotations

import re

import pytest

from tests.support.paths import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
DOCS = sorted((REPO / "docs").glob("*.md"))
USER_DOCS = [REPO / "README.md", *(d for d in DOCS if d.name != "contributing.md")]
FENCE = re.compile(r"```.*?```", re.S)
CODE = re.compile(r"`[^`\n]*`")
ISSUE = re.compile(r"(?<![\w#&])#\d+\b|\bissues?\s+#?\d+\b|\bPR\s*#?\d+\b", re.I)
# A source cited by its repository ("python-genai issues 626", "google/adk-python 1357") is another
# project's tracker, not this one's history.
UPSTREAM = re.compile(r"[\w.]+[-/][\w./-]+\s+$")


def project_issues(text: str) -> list[str]:
    found = []
    for m in ISSUE.finditer(prose(text)):
        before = m.string[max(0, m.start() - 40):m.start()]
        if not UPSTREAM.search(before):
            found.append(m.group(0))
    return found


def prose(text: str) -> str:
    """The text without code blocks and inline code (an attempt shown as `oom #2` is not an issue)."""
    return CODE.sub("", FENCE.sub("", text))


def test_the_readme_links_every_doc_and_names_every_preset() -> None:
    for doc in DOCS:
        assert f"](docs/{doc.name})" in README, f"README does not link docs/{doc.name}"
    presets = sorted(p.stem for p in (REPO / "pipeline" / "presets").glob("*.toml"))
    table = README[README.index("## The presets"):]
    for name in presets:
        assert f"| `{name}` |" in table, f"README's preset table lacks {name}"


def test_the_readmes_first_screen_says_what_to_do_after_the_demo() -> None:
    sections = [h for h in re.findall(r"^## (.+)$", README, re.M)]
    assert sections[:3] == ["Set-up", "The first five minutes", "Everyday commands"]
    first = README[README.index("## The first five minutes"):README.index("## Everyday commands")]
    for step in ("`c`", "`a`", "exports/", "aba run dpo --set dpo.data="):
        assert step in first, step


@pytest.mark.parametrize("doc", USER_DOCS, ids=lambda p: p.name)
def test_user_docs_mention_no_issue_numbers(doc) -> None:
    found = project_issues(doc.read_text(encoding="utf-8"))
    assert not found, f"{doc.name} refers to issues: {found}"


def test_the_issue_check_catches_what_it_is_for() -> None:
    assert project_issues("the stance DPO of issue #9, the judge of #8, issue 12, see PR 3") == [
        "issue #9", "#8", "issue 12", "PR 3"]
    assert not project_issues("`oom #2` is the second attempt; colour #5AA9E6; step 12 of 40")
    assert not project_issues("seen upstream: python-genai issues 626, 782; langchain-google issue 1020")
