"""The FastAGI routes the service serves: ``AGI(agi://HOST:PORT/<route>,...)`` in the dialplan.

One spelling for the composition root that serves them (switchboard.service) and for
``switchboard dialplan check``, which finds a dialplan asking for one that is not served.
"""

from __future__ import annotations

RECOGNIZE = "recognize"
HOURS = "hours"
CALLBACK = "callback"
ROUTES = frozenset({RECOGNIZE, HOURS, CALLBACK})
