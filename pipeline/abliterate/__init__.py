"""Abliteration (seed 004): refusal directions, the per-layer ablation kernel as hooks, objectives, the Optuna study and its reports."""
