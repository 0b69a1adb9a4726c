"""Column transforms: the interface (``base``) and the transforms that plug into it."""

from datamove.transforms import builtin, custom, numbers, text, timezone, values  # noqa: F401
from datamove.transforms.base import REGISTRY, Transform, build

__all__ = ["REGISTRY", "Transform", "build"]
