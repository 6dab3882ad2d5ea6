"""The dashboard's panes, grouped by area; each owns its BINDINGS and its HELP text."""
