"""The state store: evidence of every run, chunk and reject, kept in the target database."""

from datamove.state.store import ChunkState, StateStore

__all__ = ["ChunkState", "StateStore"]
