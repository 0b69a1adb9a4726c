"""The read-path flag: a flag store in the state store, a cached and polled client for
applications, and an OpenFeature provider on it (``datamove.flags.provider``).

The cutover's flip step sets a flag; applications read it per tenant or phase. The client
needs only the state store's URL and the migration's name.
"""

from datamove.flags.client import FlagClient, Resolution
from datamove.flags.store import FlagChange, FlagListing, FlagReading, FlagSetting, FlagStore
from datamove.flags.values import FlagValue

__all__ = [
    "FlagChange",
    "FlagClient",
    "FlagListing",
    "FlagReading",
    "FlagSetting",
    "FlagStore",
    "FlagValue",
    "Resolution",
]
