"""Stage 3: chunked, checkpointed, restartable, throttled copy."""

from datamove.copy.engine import CopyEngine, RunOptions, RunResult, TableOutcome

__all__ = ["CopyEngine", "RunOptions", "RunResult", "TableOutcome"]
