"""A run's faults: a full or read-only disk, the room a run needs, an unusable runs dir, a stalled worker."""
