"""The state store: evidence of every run, chunk and reject, kept in the target database."""

from datamove.state.store import ChunkState, RejectRecord, StateStore

__all__ = ["ChunkState", "RejectRecord", "StateStore"]
