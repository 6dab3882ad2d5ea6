"""Watching runs: metric series, alerts, foreign logs, telemetry and the runs model the TUI and CLI read."""
