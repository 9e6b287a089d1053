"""Is the deployment working: Redis answers, and worker processes were seen lately."""

from __future__ import annotations

from typing import Any

from publisher.services.backend import Backend

#: A worker process seen beating within this long counts as running.
WORKERS_SEEN_S = 60.0


def health(backend: Backend) -> dict[str, Any]:
    """`{"status": "ok"|"degraded", "redis": "ok", "workers": N}`: N worker processes were
    seen in the last WORKERS_SEEN_S; none makes the status "degraded" (releases stay queued
    until a worker starts).

    Raises StoreUnavailable when Redis does not answer.
    """
    backend.store.ping()
    workers = len(backend.store.owners_seen(WORKERS_SEEN_S))
    return {"status": "ok" if workers else "degraded", "redis": "ok", "workers": workers}
