"""The base of the screens that work on a runs dir (checkpoints, chat, evaluation, datagen, abliteration)."""

from __future__ import annotations

from pathlib import Path

from aba_tui.screens.sub import SubScreen


class RunsDirScreen(SubScreen):
    """A screen given its own runs dir (tests, a screen opened on another folder) or using the app's."""

    def __init__(self, runs_dir: Path | str | None = None) -> None:
        super().__init__()
        self._runs_dir = Path(runs_dir) if runs_dir is not None else None

    @property
    def runs_dir(self) -> Path:
        """Its own runs dir, else the app's run store's, else ./runs."""
        if self._runs_dir is not None:
            return self._runs_dir
        store = getattr(self.app, "store", None)
        return store.root if store is not None else Path("runs")
