"""Imported first by every benchmark script: moves this folder to the end of ``sys.path``.

Run as a script, a benchmark's own folder comes first on ``sys.path``, and ``copy.py`` there
would shadow the standard library's ``copy`` for every later import (``dataclasses``, ...).
Last, the folder is still reachable for ``harness``. Only ``os`` and ``sys`` are imported before
the move, and neither imports ``copy``.
"""

import os
import sys

_HERE = os.path.dirname(os.path.realpath(__file__))
sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.curdir) != _HERE] + [_HERE]
