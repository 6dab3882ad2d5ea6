"""Evaluation: probes, stance analysis, batteries, pairwise tournaments and before/after reports (light: no torch)."""
