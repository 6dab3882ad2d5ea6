"""The base of every screen reached from the dashboard: one way back, shown in its footer.

`esc` and `q` go back to where the operator came from (the app's ``back``: AbaApp keeps the trail,
the dashboard when there is none; a bare App pops the screen; a screen may first undo something of
its own, as the checkpoint browser clears a selection); `f1` goes to the dashboard. A screen that
holds something costly while shown (the chat's model servers) lets it go in ``left``, which the app
calls when the operator leaves it.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.screen import Screen


class SubScreen(Screen[None]):
    # What `?` says about the screen (its keys are listed under it); a screen without one gets the
    # title and description of its entry in aba_tui.screens.SCREENS.
    HELP: ClassVar[str] = ""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="screen.back", key_display="esc",
                tooltip="to the screen you came from"),
        Binding("q", "back", "Back", id="screen.back-q", show=False, tooltip="back (q quits only on the dashboard)"),
        Binding("f1", "app.goto('dashboard')", "Dashboard", id="screen.dashboard",
                tooltip="runs, charts, logs, telemetry and alerts"),
    ]

    async def action_back(self) -> None:
        await self.app.run_action("back")

    def left(self) -> None:
        """The operator went to another screen; this one stays built for the way back."""
