"""Stage 6, cutover and rollback: the write fence (``fence``), and the runbook's steps."""
