"""What every bench needs: percentiles and a work folder the embedded PostgreSQL can use."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0.5, 0.99, ...) of ``values``, in their own unit."""
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


def make_workdir() -> Path:
    # Readable by the unprivileged user the embedded PostgreSQL runs as.
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    workdir.chmod(0o755)
    return workdir
