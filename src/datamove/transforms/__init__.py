"""Column transforms: the interface (``base``) and the transforms that plug into it."""

from datamove.transforms import builtin as _builtin  # noqa: F401  (registers the built-ins)
from datamove.transforms.base import REGISTRY, Transform, build

__all__ = ["REGISTRY", "Transform", "build"]
