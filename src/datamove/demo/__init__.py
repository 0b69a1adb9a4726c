"""The embedded demo (``datamove demo``): a legacy SQLite shop moved into a new schema."""

from datamove.demo.shop import DemoResult, run_demo

__all__ = ["DemoResult", "run_demo"]
