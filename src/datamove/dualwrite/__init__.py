"""Dual-write support for the application (``cutover: {mode: dual_write}``): ``DualWriter``
writes both stores in the order the read-path flag's stage says, records a failed secondary
write as drift (``sync`` repairs it), and compares sampled shadow reads."""

from datamove.dualwrite.stages import ROUTES, Route, Stage
from datamove.dualwrite.writer import DualWriter

__all__ = ["ROUTES", "DualWriter", "Route", "Stage"]
