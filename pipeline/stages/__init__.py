"""Stage modules. Each exposes ``run(ctx: pipeline.runs.worker.StageContext) -> None`` and imports its heavy
libraries inside ``run`` (or at module level: stage modules are imported only in the worker)."""
