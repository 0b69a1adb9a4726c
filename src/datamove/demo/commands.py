"""The commands the demo prints for the reader to type next, written so that they run as shown.

``make demo`` installs datamove into ``.venv`` without putting it on ``PATH``: a bare
``datamove plan …`` printed after it failed with "command not found". The demo names the
program the way this shell can reach it, and the spec by a path that works from here.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path


def _shell_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies inside it, quoted for a shell."""
    try:
        path = path.absolute().relative_to(Path.cwd())
    except ValueError:
        pass
    return shlex.quote(str(path))


def program() -> str:
    """``datamove`` when ``PATH`` finds this installation's script, else the script's path
    (``.venv/bin/datamove``), else ``python -m datamove`` with this interpreter."""
    script = Path(sys.executable).parent / ("datamove.exe" if os.name == "nt" else "datamove")
    found = shutil.which("datamove")
    if script.is_file():
        if found is not None and Path(found).absolute() == script.absolute():
            return "datamove"
        return _shell_path(script)
    return f"{_shell_path(Path(sys.executable))} -m datamove"


def command(*args: str | Path) -> str:
    """A datamove command line to print: the program as ``program`` reaches it, paths made
    relative to the working directory where they can be."""
    words = [_shell_path(a) if isinstance(a, Path) else shlex.quote(a) for a in args]
    return " ".join([program(), *words])
