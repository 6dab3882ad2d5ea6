"""The key bar at the bottom of every screen: Textual's footer, rebuilt only when the keys it shows change.

Textual's ``Footer`` recomposes (every key a widget, each styled anew) whenever the screen's bindings
signal fires: on each focus move, although the keys shown rarely change. Rebuilding only for a new set
of keys keeps focus moves and the first frame cheap (docs/tui.md, cold start).
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """A ``Footer`` whose keys are rebuilt only when what it shows (keys, labels, enabled, tooltips) changes."""

    _shown: tuple[Any, ...] | None = None

    def _signature(self) -> tuple[Any, ...]:
        app = self.app
        keys = tuple((binding.key, app.get_key_display(binding), binding.description, binding.action,
                      binding.group, enabled, tooltip)
                     for _node, binding, enabled, tooltip in self.screen.active_bindings.values()
                     if binding.show or binding.key == app.COMMAND_PALETTE_BINDING)
        return (keys, self.compact, self.show_command_palette, app.ENABLE_COMMAND_PALETTE)

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._shown = self._signature()
        yield from super().compose()

    def on_mount(self) -> None:
        super().on_mount()
        # A key bar mounted after its screen's first bindings signal (the dashboard builds its own just after
        # the first frame) would stay empty until the next focus move: ask for the keys once it runs.
        self.call_after_refresh(self.bindings_changed, self.screen)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._bindings_ready = True
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if not self.is_attached or self._signature() == self._shown:
            return
        await self.recompose()
