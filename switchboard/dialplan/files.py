"""Reading an admin's configuration directory (the I/O edge of the dialplan tools)."""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

#: A config file larger than this is not one an admin wrote (and would not be read whole).
MAX_FILE_BYTES = 4 * 1024 * 1024
#: More files than this through includes is not a configuration but a loop of globs.
MAX_FILES = 2000
_INCLUDE = re.compile(r'^\s*#\s*(?:try)?include\s+(?:"([^"]*)"|<([^>]*)>|(\S+))', re.MULTILINE)


class FilesError(RuntimeError):
    """The directory cannot be read; the message says why."""


def read_directory(directory: Path) -> dict[str, str]:
    """Every ``*.conf`` file of ``directory`` by its name, and every file they include:
    a relative include by its path relative to ``directory`` (``site/did.conf``, globs
    as Asterisk's), an absolute one by its absolute path.

    Undecodable bytes become U+FFFD: a finding then points at the line, nothing is lost.
    """
    if not directory.is_dir():
        raise FilesError(f"{directory}: not a directory")
    texts: dict[str, str] = {}
    try:
        paths = sorted(p for p in directory.iterdir() if p.suffix == ".conf" and p.is_file())
    except OSError as exc:
        raise FilesError(f"{directory}: {exc.strerror or exc}") from exc
    for path in paths:
        texts[path.name] = _read(path)
    pending = list(texts.values())
    while pending:
        for groups in _INCLUDE.findall(pending.pop()):
            target = next(g for g in groups if g)
            for name, path in _targets(directory, target):
                if name in texts or not path.is_file():
                    continue
                if len(texts) >= MAX_FILES:
                    raise FilesError(f"{directory}: more than {MAX_FILES} files included")
                texts[name] = _read(path)
                pending.append(texts[name])
    return texts


def _targets(directory: Path, target: str) -> list[tuple[str, Path]]:
    """(name, path) of what ``#include target`` reads."""
    absolute = os.path.isabs(target)
    pattern = target if absolute else str(directory / target)
    found = sorted(glob.glob(pattern)) if any(c in target for c in "*?[") else [pattern]
    result = []
    for match in found:
        path = Path(match)
        name = str(path) if absolute else os.path.relpath(path, directory)
        result.append((name, path))
    return result


def _read(path: Path) -> str:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise FilesError(f"{path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise FilesError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    return data.decode("utf-8", "replace")


def inside_root(root: Path, path: Path) -> Path:
    """``path`` (inside ``root``) with its symbolic links followed as a program chrooted
    in ``root`` sees them: an absolute link target is a path inside ``root`` (Debian's
    ``sounds/en`` links to ``/etc/alternatives/...``). Raises OSError after 16 links."""
    for _ in range(16):
        if not path.is_symlink():
            return path
        target = os.readlink(path)
        path = root / target.lstrip("/") if os.path.isabs(target) else path.parent / target
    raise OSError(f"{path}: too many symbolic links")
