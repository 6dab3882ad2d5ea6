"""Run configs: the typed schema, resolution and validation of run.toml, presets and the runs dir."""
