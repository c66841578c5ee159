"""A worker's Prometheus metrics, served on WORKER_METRICS_PORT (a worker has no HTTP API of its own).

The same registry as the gateway's /metrics (app/core/metrics.py): runs, model calls, tokens, tool latency and cost
are counted where the team runs, i.e. here; plus what only a worker knows, read when scraped.
"""

from __future__ import annotations

from prometheus_client import Gauge, start_http_server

from app.core.metrics import REGISTRY, STORE_QUEUE
from app.distributed.worker.worker import Worker

HOSTED = Gauge("research_team_worker_sessions", "Sessions this worker holds (leased).", registry=REGISTRY)
PUBLISH_QUEUE = Gauge(
    "research_team_worker_publish_queue", "Stored events waiting to be published on Redis.", registry=REGISTRY
)
DROPPED = Gauge(
    "research_team_worker_publications_dropped",
    "Publications dropped (full queue or Redis away); gateways read them from the store.",
    registry=REGISTRY,
)
RESUMED = Gauge("research_team_worker_resumed_runs", "Runs this worker resumed from a checkpoint.", registry=REGISTRY)


def serve_worker_metrics(worker: Worker, port: int, host: str = "0.0.0.0") -> None:
    HOSTED.set_function(lambda: len(worker.hosted))
    PUBLISH_QUEUE.set_function(lambda: worker.publisher.pending)
    DROPPED.set_function(lambda: worker.publisher.dropped)
    RESUMED.set_function(lambda: worker.resumed_runs)
    STORE_QUEUE.set_function(lambda: worker.store_pending)
    start_http_server(port, addr=host, registry=REGISTRY)
