"""Run pipeline for the ABA Control Centre: one sub-package per responsibility, each on one floor of
docs/architecture.md's package table (enforced by tests/test_import_contracts.py).

The light parts (config, the run machinery in ``runs``, checkpoints, models, monitor …) import no heavy ML
library at module level, so the UI and the CLI can use them. Stage modules under ``pipeline.stages`` and
worker-side functions import torch/transformers/trl inside the worker process only.
"""

__version__ = "0.1.0"
