"""docs/tui.md names every config key and every binding id the app has (so the docs cannot drift)."""

from __future__ import annotations

import dataclasses

from aba_tui.app import AbaApp
from aba_tui.settings import SECTIONS
from tests.support.paths import REPO

DOC = (REPO / "docs" / "tui.md").read_text(encoding="utf-8")


def test_every_config_key_is_documented():
    missing = [f"{name}.{f.name}" for name, cls in SECTIONS.items() for f in dataclasses.fields(cls)
               if f"`{name}.{f.name}`" not in DOC]
    assert missing == []


def test_every_binding_id_is_documented():
    ours = {bid for bid in AbaApp.binding_ids() if not bid.startswith("app.goto-") or bid == "app.goto-dashboard"}
    missing = sorted(bid for bid in ours if f"`{bid}`" not in DOC and bid.rsplit("-", 1)[0] + "-<name>`" not in DOC)
    assert missing == []
