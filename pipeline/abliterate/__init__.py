"""Abliteration (seed 004): refusal directions, ablation hooks, objectives, the Optuna study, reports."""
