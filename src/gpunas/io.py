"""Atomic file output: write to a temporary name in the same directory, then rename.

A killed job therefore leaves either the complete file or none, never a half-written one that
a rerun would take as finished. The file gets the permissions a plain ``open()`` would give it
(0666 less the user's umask), so colleagues on a shared cluster can read a hub or a LUT.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gpunas.errors import GpunasError


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        if os.path.exists(tmp):  # mkstemp made it 0600; give it what open() would
            os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def current_umask() -> int:
    """The process's umask (read without changing it, where /proc allows; else set and restored)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def atomic_write_with(path: str | Path, writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_path)`` and rename the result onto ``path``."""
    with atomic_path(path) as tmp:
        writer(tmp)


def write_no_model(path: str | Path) -> None:
    """The "no model" weights file: empty, written atomically (a declared output of a job whose
    entry has no trained model: skipped, failed or a table lookup)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(b"")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def check_writable_dir(path: str | Path, what: str = "results directory") -> None:
    """Refuse a directory that cannot be written (a file in its place, no permission), no side effects."""
    p = Path(path)
    target = p if p.exists() else next((a for a in p.absolute().parents if a.exists()), Path("/"))
    if p.exists() and not p.is_dir():
        raise GpunasError(f"{what} {str(p)!r} is not writable: a file of that name is in the way")
    if not os.access(target, os.W_OK | os.X_OK):
        raise GpunasError(f"{what} {str(p)!r} is not writable (no write permission on {str(target)!r})")
