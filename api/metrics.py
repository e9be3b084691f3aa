"""Prometheus metrics: request latency histograms, cache results, generation durations per kind,
queue depth and safety decisions. The last three are read from the catalog at scrape time (the
workers that produce them are other processes), cached for a few seconds."""

from __future__ import annotations

import time
from typing import Any, Iterator

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector

from genperso.catalog import session_scope
from genperso.catalog.assets import AssetRow, JobRow
from genperso.config import Settings

__all__ = ["Metrics", "MetricsMiddleware"]

SCRAPE_CACHE_S = 5.0
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class CatalogCollector(Collector):
    def __init__(self, settings: Settings, redis: Any = None) -> None:
        self.settings = settings
        self._cached: tuple[float, list[Any]] | None = None

    def describe(self) -> Iterator[Any]:
        yield SummaryMetricFamily("genperso_generation_seconds", "", labels=["kind"])
        yield GaugeMetricFamily("genperso_queue_depth", "", labels=["queue", "status"])
        yield GaugeMetricFamily("genperso_safety_decisions", "", labels=["state"])

    def collect(self) -> Iterator[Any]:
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] > SCRAPE_CACHE_S:
            self._cached = (now, self._read())
        yield from self._cached[1]

    def _read(self) -> list[Any]:
        gen = SummaryMetricFamily("genperso_generation_seconds", "Generation job durations by asset kind",
                                  labels=["kind"])
        depth = GaugeMetricFamily("genperso_queue_depth", "Jobs waiting or running, by queue and status",
                                  labels=["queue", "status"])
        safety = GaugeMetricFamily("genperso_safety_decisions", "Generated assets by safety/review state",
                                   labels=["state"])
        with session_scope(self.settings) as s:
            for kind, n, total in s.execute(
                sa.select(JobRow.kind, sa.func.count(), sa.func.sum(JobRow.duration_s))
                .where(JobRow.duration_s.is_not(None)).group_by(JobRow.kind)
            ):
                gen.add_metric([kind], count_value=int(n), sum_value=float(total or 0.0))
            for queue, status, n in s.execute(
                sa.select(JobRow.queue, JobRow.status, sa.func.count())
                .where(JobRow.status.in_(("queued", "running", "retrying"))).group_by(JobRow.queue, JobRow.status)
            ):
                depth.add_metric([queue, status], float(n))
            for state, n in s.execute(
                sa.select(AssetRow.state, sa.func.count()).where(AssetRow.is_default.is_(False)).group_by(AssetRow.state)
            ):
                safety.add_metric([state], float(n))
        return [gen, depth, safety]


class Metrics:
    """One registry per app (tests build many apps)."""

    def __init__(self, settings: Settings) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram("genperso_request_seconds", "HTTP request latency", ["route", "method", "status"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.cache = Counter("genperso_cache_lookups", "Personalize cache results by kind and outcome",
                             ["kind", "result"], registry=self.registry)
        self.paths = Counter("genperso_personalize_path", "Personalize requests by path: hot (cached, async) "
                             "or full (synchronous pipeline), and why", ["path", "reason"], registry=self.registry)
        self.registry.register(CatalogCollector(settings))
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, memoised (``labels`` takes a lock and builds a tuple per call)."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def cache_result(self, kind: str, result: str) -> None:
        self._child(self.cache, kind, result).inc()

    def path(self, path: str, reason: str) -> None:
        self._child(self.paths, path, reason).inc()

    def observe_request(self, route: str, method: str, status: str, seconds: float) -> None:
        self._child(self.latency, route, method, status).observe(seconds)


class MetricsMiddleware:
    """Pure ASGI: times every HTTP request, labelled by route template (not raw path)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = [500]

        async def _send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(path, scope.get("method", ""), str(status[0]), time.perf_counter() - t0)
