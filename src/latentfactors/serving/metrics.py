"""Prometheus metrics of one service (its own registry, so several apps in one process,
as in tests, never collide)."""

from __future__ import annotations

from typing import Any

__all__ = ["Metrics"]

#: latency buckets in seconds: sub-millisecond to seconds
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class Metrics:
    """Request counts and latencies by route, fold-ins, reloads, live users, the index."""

    def __init__(self, service: Any) -> None:
        import prometheus_client
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        prometheus_client.disable_created_metrics()  # no *_created series: half the text
        self.service = service
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "latentfactors_http_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "latentfactors_http_request_duration_seconds",
            "HTTP request latency by route",
            ["route", "method"],
            buckets=BUCKETS,
            registry=r,
        )
        self.fold_ins = Gauge("latentfactors_fold_ins", "Users folded in since start", registry=r)
        self.reloads = Gauge("latentfactors_model_reloads", "Model reloads since start", registry=r)
        self.live_users = Gauge(
            "latentfactors_live_users", "Users folded in from posted interactions", registry=r
        )
        self.version = Gauge(
            "latentfactors_model_version",
            "Version of the served model (1 at start, +1 per reload)",
            registry=r,
        )
        self.ready = Gauge("latentfactors_ready", "1 when the model is loaded", registry=r)
        self.recall = Gauge(
            "latentfactors_index_recall_at_10",
            "Recall@10 of the retrieval index against exact top-10, measured at load",
            ["kind"],
            registry=r,
        )
        self.index = Gauge(
            "latentfactors_index_info", "The retrieval index in use", ["kind"], registry=r
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        svc = self.service
        self.fold_ins.set(svc.stats["fold_ins"])
        self.reloads.set(svc.stats["reloads"])
        self.ready.set(1 if svc.ready else 0)
        if svc.ready:
            snap = svc.current
            self.live_users.set(len(snap.live))
            self.version.set(snap.version)
            self.index.labels(snap.index_kind).set(1)
            self.recall.labels(snap.index_kind).set(1.0 if snap.recall is None else snap.recall)
        return generate_latest(self.registry)
