"""The task queue: the beads data model, pure graph logic, and the two store adapters."""
