"""Seed 000's data generation: prompt sets, traces at three quality levels, judgements, resumable JSONL."""
