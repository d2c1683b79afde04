"""Reading an admin's configuration directory (the I/O edge of the dialplan tools)."""

from __future__ import annotations

import re
from pathlib import Path

#: A config file larger than this is not one an admin wrote (and would not be read whole).
MAX_FILE_BYTES = 4 * 1024 * 1024
_ABSOLUTE_INCLUDE = re.compile(r'^\s*#\s*(?:try)?include\s+"?(/[^"\s]+)"?', re.MULTILINE)


class FilesError(RuntimeError):
    """The directory cannot be read; the message says why."""


def read_directory(directory: Path) -> dict[str, str]:
    """Every ``*.conf`` file of ``directory`` by its name, plus the files they include by
    an absolute path (named by that path, or by their name when inside ``directory``).

    Undecodable bytes become U+FFFD: a finding then points at the line, nothing is lost.
    """
    if not directory.is_dir():
        raise FilesError(f"{directory}: not a directory")
    texts: dict[str, str] = {}
    try:
        paths = sorted(p for p in directory.iterdir() if p.is_file())
    except OSError as exc:
        raise FilesError(f"{directory}: {exc.strerror or exc}") from exc
    for path in paths:
        if path.suffix == ".conf":
            texts[path.name] = _read(path)
    pending = list(texts.values())
    while pending:
        for target in _ABSOLUTE_INCLUDE.findall(pending.pop()):
            path = Path(target)
            name = path.name if path.parent == directory else target
            if name in texts or not path.is_file():
                continue
            texts[name] = _read(path)
            pending.append(texts[name])
    return _relative_includes(texts, directory)


def _relative_includes(texts: dict[str, str], directory: Path) -> dict[str, str]:
    """Absolute includes of files inside ``directory`` name them as a relative include does."""
    prefix = f"{directory.resolve()}/"
    rewritten: dict[str, str] = {}
    for name, text in texts.items():
        rewritten[name] = re.sub(
            r'(#\s*(?:try)?include\s+"?)' + re.escape(prefix), r"\1", text
        ).replace(f'"{directory}/', '"')
    return rewritten


def _read(path: Path) -> str:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise FilesError(f"{path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise FilesError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    return data.decode("utf-8", "replace")
