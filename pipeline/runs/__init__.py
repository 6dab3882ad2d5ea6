"""Run folders and their processes: layout, ids, store, status, events, launcher, supervisor, worker, faults, Slurm."""
