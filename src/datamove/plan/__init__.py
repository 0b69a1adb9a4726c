"""The plan: the spec resolved against live schemas, with lint findings and table order."""

from datamove.plan.model import ColumnPlan, Finding, Plan, Severity, TablePlan
from datamove.plan.resolve import resolve_plan

__all__ = ["ColumnPlan", "Finding", "Plan", "Severity", "TablePlan", "resolve_plan"]
