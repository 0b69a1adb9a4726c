"""The façade: one method per command, each returning a typed result.

The CLI is a thin adapter over this class; everything it can do, Python can do::

    from datamove import Migration
    result = Migration.from_file("migration.yaml").run(workers=2)
"""

from __future__ import annotations

from datamove.migration.cutover import CutoverCommands
from datamove.migration.data import DataCommands, Status, UninstallResult
from datamove.migration.reconcile import ReconcileCommands
from datamove.migration.report import ReportCommands

__all__ = ["Migration", "Status", "UninstallResult"]


class Migration(DataCommands, CutoverCommands, ReconcileCommands, ReportCommands):
    """A migration spec bound to its source and target databases: every command, each group
    in its own module of this package (``data``, ``cutover``, ``reconcile``, ``report``)."""
