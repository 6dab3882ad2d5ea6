"""Run folders and their processes: file names, ids, store, status, events, launcher, supervisor, worker, end classification."""
