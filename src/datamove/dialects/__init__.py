"""One module per engine; the only code that knows an engine's SQL, bulk paths and quirks."""

from datamove.dialects.base import Dialect

__all__ = ["Dialect"]
