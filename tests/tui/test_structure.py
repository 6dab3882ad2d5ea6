"""The UI's own floors: the app builds screens and hands them its data, screens hand theirs to their
panes, and answers go up as Textual messages. So no pane imports the app or a screen and no screen
imports the app; imports under TYPE_CHECKING and inside functions count (grimp sees both). Circles
anywhere, aba_tui's included, are tests/test_import_contracts.py's."""

from __future__ import annotations

import grimp
import pytest

ABOVE_PANES = ("aba_tui.app", "aba_tui.run_actions", "aba_tui.cli", "aba_tui.__main__", "aba_tui.screens")
ABOVE_SCREENS = ("aba_tui.app", "aba_tui.run_actions", "aba_tui.cli", "aba_tui.__main__")


@pytest.fixture
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("aba_tui", "pipeline", exclude_type_checking_imports=False)


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def upward_imports(graph: grimp.ImportGraph) -> list[str]:
    out = []
    for module in sorted(graph.modules):
        above = (ABOVE_PANES if _within(module, ("aba_tui.panes",)) else
                 ABOVE_SCREENS if _within(module, ("aba_tui.screens",)) else ())
        out += [f"{module} imports {imported}" for imported in sorted(graph.find_modules_directly_imported_by(module))
                if _within(imported, above)]
    return out


def test_panes_and_screens_import_nothing_above_them(graph: grimp.ImportGraph) -> None:
    assert upward_imports(graph) == []


def test_the_checks_fail_on_a_pane_that_reaches_for_the_app(graph: grimp.ImportGraph) -> None:
    graph.add_import(importer="aba_tui.panes.logs", imported="aba_tui.app")  # deliberate
    graph.add_import(importer="aba_tui.screens.pick", imported="aba_tui.run_actions")
    assert upward_imports(graph) == ["aba_tui.panes.logs imports aba_tui.app",
                                     "aba_tui.screens.pick imports aba_tui.run_actions"]
