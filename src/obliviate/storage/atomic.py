"""Writing a file so that a crash never leaves half of it under its final name."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO


def umask() -> int:
    """The process's umask: from /proc on Linux; elsewhere reading it means setting it, so
    it is set straight back (another thread creating a file in between would get 0o022)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temp_file(path: Path) -> tuple[int, str]:
    """``mkstemp`` beside ``path``, with the mode an ordinary ``open`` would give (0o666
    less the umask): ``mkstemp`` makes files owner-only, and a lab's shared store or a
    report for colleagues must be readable as the umask allows."""
    # The prefix is cut short so that a long (but valid) final name still leaves room.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:64]}-", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~umask())
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    return fd, tmp


def temp_dir(parent: Path, prefix: str) -> Path:
    """``mkdtemp`` in ``parent`` with the mode ``mkdir`` would give (0o777 less the umask)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    tmp.chmod(0o777 & ~umask())
    return tmp


def umask_modes(root: Path) -> None:
    """Give every file and directory under ``root`` the mode the umask allows: some writers
    (safetensors) create their files owner-only whatever the umask says."""
    mask = umask()
    for d, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(d, name), 0o777 & ~mask)
        for name in files:
            os.chmod(os.path.join(d, name), 0o666 & ~mask)


def atomic_write(path: Path, write: Callable[[TextIO], None]) -> None:
    """``write`` into a temporary file beside ``path``, fsync, then rename it into place.

    On any failure (including KeyboardInterrupt) the temporary file is removed and whatever
    was at ``path`` before is untouched. The file gets the umask's mode (``temp_file``).
    """
    fd, tmp = temp_file(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
