"""Run pipeline for the ABA Control Centre.

The light modules here (config, runstore, status, events, checkpoints, launcher, supervisor) import no
heavy ML library at module level, so the UI and the CLI can use them. Stage modules under
``pipeline.stages`` import torch/transformers/trl inside the worker process only.
"""

__version__ = "0.1.0"
