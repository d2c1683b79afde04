"""What every bench needs: percentiles and a work folder the embedded PostgreSQL can use."""

from __future__ import annotations

import shutil
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0.5, 0.99, ...) of ``values``, in their own unit."""
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


def make_workdir() -> Path:
    # Readable by the unprivileged user the embedded PostgreSQL runs as.
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    workdir.chmod(0o755)
    return workdir


@contextmanager
def embedded_postgres() -> Iterator[Any]:
    """A fresh embedded PostgreSQL in a work folder of its own, both gone afterwards."""
    from switchboard.store.database import start_embedded

    workdir = make_workdir()
    server = start_embedded(workdir / "pgdata")
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
