"""What Karmada and the member clusters say about the platform's workloads, kept current
by list + watch, so that a status-sync pass costs what changed since the last one.

Each *stream* is one collection: the workload templates of one kind on Karmada, all
ResourceBindings, or the workloads of one kind on one member (read through Karmada's
cluster proxy, so a status is seen when the member's operator writes it, not after
Karmada's status aggregation has copied it onto the template). For every stream Redis
keeps the last resourceVersion and a slim copy of each object (its status and the few
fields the status rules read), shared by every worker process: the pass may run in any.

A pass watches every stream from its version for a short window, in parallel, and
applies the events. A stream is listed again when it has no version, when its version
is too old (410 Gone), and every ``JOB_SYNC_RESYNC_SECONDS`` in any case, so a missed
event costs at most that long.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from clusters.client import (
    MANAGED_BY_SELECTOR,
    ClusterError,
    Collection,
    KarmadaClient,
    ResourceVersionGone,
)

log = logging.getLogger(__name__)

JOB_ID_LABEL = "mlplatform.io/job-id"
BINDINGS = Collection("work.karmada.io", "v1alpha2", "resourcebindings")


def job_key(namespace: str, kind: str, name: str) -> str:
    """The key of a job's objects in every stream: the template's namespace, kind, name."""
    return f"{namespace}/{kind}/{name}"


def _slim_workload(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {
        # The status rules tell a TrainJob by its kind (LIST items of some kinds omit it).
        "kind": obj.get("kind") or kind,
        "metadata": {
            "labels": {JOB_ID_LABEL: (meta.get("labels") or {}).get(JOB_ID_LABEL, "")},
            "uid": meta.get("uid", ""),
        },
        "status": obj.get("status") or {},
    }


def _slim_binding(obj: dict[str, Any]) -> dict[str, Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return {
        "spec": {"clusters": spec.get("clusters") or []},
        "status": {
            "conditions": status.get("conditions") or [],
            "aggregatedStatus": status.get("aggregatedStatus") or [],
        },
    }


@dataclass(frozen=True)
class Stream:
    name: str
    collection: Collection
    key_of: Callable[[dict[str, Any]], str | None]
    slim: Callable[[dict[str, Any]], dict[str, Any]]
    label_selector: str = ""
    # A member stream that cannot be read leaves the job to Karmada's view; a Karmada one
    # is an outage (templates, bindings).
    member: str = ""


def workload_stream(group: str, version: str, plural: str, kind: str, member: str = "") -> Stream:
    def key_of(obj: dict[str, Any]) -> str | None:
        meta = obj.get("metadata") or {}
        if not meta.get("name"):
            return None
        return job_key(meta.get("namespace", ""), kind, meta["name"])

    where = member or "karmada"
    return Stream(
        name=f"{where}/{plural}.{group}",
        collection=Collection(group, version, plural, member),
        key_of=key_of,
        slim=lambda obj: _slim_workload(obj, kind),
        label_selector=MANAGED_BY_SELECTOR,
        member=member,
    )


def binding_stream() -> Stream:
    def key_of(obj: dict[str, Any]) -> str | None:
        resource = (obj.get("spec") or {}).get("resource") or {}
        if not resource.get("name") or not resource.get("kind"):
            return None
        return job_key(resource.get("namespace", ""), resource["kind"], resource["name"])

    return Stream(
        name="karmada/resourcebindings.work.karmada.io",
        collection=BINDINGS,
        key_of=key_of,
        slim=_slim_binding,
    )


@dataclass
class Refresh:
    """What one pass learned: the keys whose objects changed, whether some stream was
    listed whole (every job must then be looked at), and the streams it could not read."""

    changed: set[str] = field(default_factory=set)
    relisted: bool = False
    unlisted: dict[str, str] = field(default_factory=dict)  # stream name -> why
    unread_members: dict[str, str] = field(default_factory=dict)  # member -> why
    events: int = 0


def _identity(client: KarmadaClient) -> str:
    """A new Karmada (another server, or the same address with a new CA) starts afresh: its
    resourceVersions mean nothing against another's. The CA's content, not its path: the
    client writes an inline CA to a temporary file of a different name in every process."""
    config = client.api.configuration
    try:
        with open(config.ssl_ca_cert or "", "rb") as f:
            ca = f.read()
    except OSError:
        ca = b""
    return hashlib.sha1(config.host.encode() + b"|" + ca).hexdigest()[:12]


class Observations:
    """The Redis-backed copies of every stream, for one Karmada control plane."""

    def __init__(self, client: KarmadaClient, conn: Any) -> None:
        self.client = client
        self.conn = conn
        self.prefix = f"mlplatform:sync:{_identity(client)}"

    def _keys(self, stream: Stream) -> tuple[str, str]:
        return f"{self.prefix}:{stream.name}:meta", f"{self.prefix}:{stream.name}:objects"

    # --- reading the cache ------------------------------------------------------------
    def get(self, stream: Stream, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = list(keys)
        if not keys:
            return {}
        _, objects = self._keys(stream)
        values = self.conn.hmget(objects, keys)
        return {k: json.loads(v) for k, v in zip(keys, values, strict=True) if v is not None}

    def known(self, stream: Stream) -> bool:
        meta, _ = self._keys(stream)
        return bool(self.conn.hget(meta, "rv"))

    # --- pass bookkeeping -------------------------------------------------------------
    def remember(self, name: str, value: str) -> str | None:
        """Store ``value`` under ``name`` and return what was there."""
        old = self.conn.getset(f"{self.prefix}:state:{name}", value)
        return old.decode() if isinstance(old, bytes) else old

    # --- refreshing -------------------------------------------------------------------
    def refresh(self, streams: list[Stream], *, deadline: float) -> Refresh:
        """Bring every stream up to date, in parallel; raise ClusterError when Karmada
        itself does not answer."""
        result = Refresh()
        if not streams:
            return result
        with ThreadPoolExecutor(max_workers=min(8, len(streams))) as pool:
            outcomes = list(pool.map(lambda s: self._refresh_one(s, deadline=deadline), streams))
        karmada_error: ClusterError | None = None
        for stream, outcome in zip(streams, outcomes, strict=True):
            if isinstance(outcome, ClusterError):
                if stream.member:
                    result.unread_members[stream.member] = outcome.message
                elif outcome.status == 404:
                    result.unlisted[stream.name] = outcome.message
                else:
                    karmada_error = karmada_error or outcome
                continue
            changed, relisted, events = outcome
            result.changed |= changed
            result.relisted |= relisted
            result.events += events
        if karmada_error is not None:
            raise karmada_error
        return result

    def _refresh_one(
        self, stream: Stream, *, deadline: float
    ) -> tuple[set[str], bool, int] | ClusterError:
        meta_key, _ = self._keys(stream)
        try:
            meta = {k.decode(): v.decode() for k, v in self.conn.hgetall(meta_key).items()}
            version = meta.get("rv", "")
            listed_at = float(meta.get("listed_at") or 0)
            if not version or time.time() - listed_at >= settings.JOB_SYNC_RESYNC_SECONDS:
                return self._relist(stream), True, 0
            window = max(0.05, min(settings.JOB_SYNC_WATCH_LIMIT, deadline - time.monotonic()))
            try:
                events, new_version = self.client.watch_collection(
                    stream.collection,
                    resource_version=version,
                    label_selector=stream.label_selector,
                    idle=settings.JOB_SYNC_WATCH_IDLE,
                    limit=window,
                )
            except ResourceVersionGone:
                return self._relist(stream), True, 0
            return self._apply(stream, events, new_version), False, len(events)
        except ClusterError as exc:
            return exc

    def _relist(self, stream: Stream) -> set[str]:
        items, version = self.client.list_collection(
            stream.collection, label_selector=stream.label_selector
        )
        meta_key, objects_key = self._keys(stream)
        mapping = {}
        for item in items:
            key = stream.key_of(item)
            if key:
                mapping[key] = json.dumps(stream.slim(item), separators=(",", ":"))
        pipe = self.conn.pipeline(transaction=True)
        pipe.delete(objects_key)
        if mapping:
            pipe.hset(objects_key, mapping=mapping)
        pipe.hset(meta_key, mapping={"rv": version, "listed_at": str(time.time())})
        pipe.execute()
        return set(mapping)

    def _apply(self, stream: Stream, events: list[tuple[str, dict]], version: str) -> set[str]:
        meta_key, objects_key = self._keys(stream)
        changed: set[str] = set()
        pipe = self.conn.pipeline(transaction=True)
        for kind, obj in events:
            key = stream.key_of(obj)
            if not key:
                continue
            changed.add(key)
            if kind == "DELETED":
                pipe.hdel(objects_key, key)
            else:
                pipe.hset(objects_key, key, json.dumps(stream.slim(obj), separators=(",", ":")))
        pipe.hset(meta_key, "rv", version)
        pipe.execute()
        return changed

    def forget(self) -> None:
        """Drop every stream's copy (the next pass lists everything again)."""
        for key in self.conn.scan_iter(f"{self.prefix}:*"):
            self.conn.delete(key)


_redis_conn: Any = None


def observations(client: KarmadaClient) -> Observations:
    global _redis_conn
    if _redis_conn is None:
        import redis

        # Set wherever a sync runs: the sync lock lives in Redis too (mlplatform/locks.py).
        _redis_conn = redis.Redis.from_url(settings.REDIS_URL or "")
    return Observations(client, _redis_conn)
