"""Runs beyond one process: Slurm jobs (submit, state, stop, requeue), multi-node launch, the ranks' stop agreement and run dependencies."""
