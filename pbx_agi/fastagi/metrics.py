"""What a FastAGI server counts: connections, sessions by outcome, per route."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RouteMetrics:
    served: int = 0  # route returned normally
    failed: int = 0  # route raised (a command timeout counts here)
    hung_up: int = 0  # Asterisk went away while the route was talking to it
    cancelled: int = 0  # cut off by FastAGIServer.close()
    seconds: float = 0.0  # total time spent in the route


@dataclass
class FastAGIMetrics:
    connections: int = 0
    sessions_served: int = 0
    sessions_failed: int = 0
    sessions_hung_up: int = 0
    sessions_cancelled: int = 0
    bad_requests: int = 0  # EOF / timeout / oversize before the environment was complete
    refused_peers: int = 0  # connections (counted above too) from a peer not allowed
    unknown_routes: int = 0
    in_flight: int = 0
    per_route: dict[str, RouteMetrics] = field(default_factory=dict)

    def route(self, name: str) -> RouteMetrics:
        stats = self.per_route.get(name)
        if stats is None:
            stats = self.per_route[name] = RouteMetrics()
        return stats
