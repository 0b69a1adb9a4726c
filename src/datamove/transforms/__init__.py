"""Column transforms: the interface (``base``) and the transforms that plug into it."""

from datamove.transforms import (  # noqa: F401  (registers the transforms)
    builtin,
    concat,
    conditional,
    custom,
    numbers,
    sqlexpr,
    text,
    timezone,
    values,
)
from datamove.transforms.base import REGISTRY, Transform, build
from datamove.transforms.custom import batch

__all__ = ["REGISTRY", "Transform", "batch", "build"]
