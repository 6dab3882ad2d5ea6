"""Runs past one process: Slurm jobs, multi-node launch, the ranks' stop agreement, run dependencies."""
