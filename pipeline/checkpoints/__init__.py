"""Checkpoints: the on-disk store, the browser's ranking/diff/prune logic, probes, collapse scans and metric rules."""
