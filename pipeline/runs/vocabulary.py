"""The words a run's events use, shared by the worker that writes them and every reader (docs/events.md)."""

from __future__ import annotations

from typing import Literal

# An `alert` event's level; the UI's alert rules (pipeline.monitor.alerts) raise the same two.
AlertLevel = Literal["error", "warning"]
