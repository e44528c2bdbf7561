"""The platform's only door to Kubernetes: the Karmada control plane and, through Karmada's
cluster proxy, its member clusters.

Every API failure is turned into ``ClusterError(permanent=...)`` so callers decide on retries
without knowing the client library: 4xx other than 409/429 are permanent (the request itself
is wrong), 5xx, 409 conflicts, 429, timeouts and connection errors are transient. A 409
AlreadyExists on create is success: names are stable, so a retried create meets its own
earlier attempt. Anything else (a TypeError, a KeyError) is a bug in the platform and is
raised as it is: it must reach a traceback in the log, not pass for an outage.

Every request has a connect and a read timeout (``KARMADA_CONNECT_TIMEOUT``,
``KARMADA_READ_TIMEOUT``), so a hung API server costs a caller at most their sum per request.
"""

from __future__ import annotations

import builtins
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn, TypeVar

import urllib3
from django.conf import settings
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity

from clusters.karmada import plural
from mlplatform import metrics

log = logging.getLogger(__name__)
T = TypeVar("T")

MANAGED_BY_SELECTOR = "app.kubernetes.io/managed-by=mlplatform"
# How long a process trusts that a namespace it made sure of still exists.
NAMESPACE_KNOWN_SECONDS = 300.0


class ClusterError(Exception):
    def __init__(self, message: str, *, permanent: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status


class ResourceVersionGone(ClusterError):
    """A watch asked to resume from a version the API server no longer keeps (410)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=False, status=410)


@dataclass(frozen=True)
class Collection:
    """Every object of one kind, on Karmada or (with ``cluster``) on one member cluster
    through Karmada's cluster proxy."""

    group: str
    version: str
    plural: str
    cluster: str = ""

    @property
    def path(self) -> str:
        base = f"/apis/{self.group}/{self.version}/{self.plural}"
        if self.cluster:
            return f"/apis/cluster.karmada.io/v1alpha1/clusters/{self.cluster}/proxy{base}"
        return base

    @property
    def label(self) -> str:
        where = f" on {self.cluster}" if self.cluster else ""
        return f"{self.plural}.{self.group}{where}"


def _set_read_timeout(response: Any, seconds: float) -> None:
    """Shorten the read timeout of a streaming response once its headers are in: from now
    on a wait that long for the next bytes means the stream is quiet."""
    sock = getattr(getattr(response, "_fp", None), "fp", None)
    raw = getattr(sock, "raw", None) or sock
    target = getattr(raw, "_sock", None)
    if target is not None:
        target.settimeout(seconds)


@dataclass(frozen=True)
class ResourceRef:
    """Where an object lives in the API: enough to GET, LIST or DELETE it."""

    api_version: str
    kind: str
    plural: str
    namespace: str | None = None
    name: str | None = None

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]


def namespace_labels() -> dict[str, str]:
    """Labels of a namespace the platform creates: ours, and the Pod Security Standard the
    members' admission enforces there (warn and audit at the same level, so a violation is
    also reported where it is refused)."""
    level = settings.POD_SECURITY_LEVEL
    return {
        "app.kubernetes.io/managed-by": "mlplatform",
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/warn": level,
        "pod-security.kubernetes.io/audit": level,
    }


def ref_for(obj: dict[str, Any]) -> ResourceRef:
    kind = obj["kind"]
    meta = obj.get("metadata", {})
    return ResourceRef(
        obj["apiVersion"], kind, plural(kind), meta.get("namespace"), meta.get("name")
    )


def quantity(value: Any) -> Decimal:
    """A Kubernetes quantity (``500m``, ``64Gi``, ``4``) as a number; garbage counts as 0."""
    if value in (None, ""):
        return Decimal(0)
    try:
        return parse_quantity(value)
    except (ValueError, TypeError):
        return Decimal(0)


def _error_from(exc: Exception, action: str) -> ClusterError | None:
    """The ClusterError for a failed request, or None when ``exc`` is not an API or
    transport failure (a bug: the caller re-raises it unchanged)."""
    if isinstance(exc, ApiException):
        status = exc.status or 0
        message = exc.reason or ""
        try:
            body = json.loads(exc.body or "{}")
            message = body.get("message") or message
        except (ValueError, TypeError):
            pass
        permanent = 400 <= status < 500 and status not in (409, 429)
        return ClusterError(
            f"{action}: {message} (HTTP {status})", permanent=permanent, status=status
        )
    # urllib3 counts a refused connection as a kind of connect timeout: test it first.
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return ClusterError(f"{action}: Karmada is unreachable: {_words(exc)}", permanent=False)
    if isinstance(exc, (urllib3.exceptions.TimeoutError, TimeoutError)):
        return ClusterError(
            f"{action}: Karmada did not answer in time: {_words(exc)}", permanent=False
        )
    if isinstance(exc, (urllib3.exceptions.HTTPError, OSError)):
        return ClusterError(f"{action}: Karmada is unreachable: {_words(exc)}", permanent=False)
    if isinstance(exc, json.JSONDecodeError):
        # A proxy or load balancer answered with something that is not the API's JSON.
        return ClusterError(f"{action}: the answer was not JSON: {exc}", permanent=False)
    return None


_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>:?\s*")


def _words(exc: Exception) -> str:
    """The error without the client library's object reprs, which differ on every call and
    would make each occurrence of one outage look like a new one."""
    return _OBJECT_REPR.sub("", str(exc)).strip() or type(exc).__name__


def _call_kind(action: str) -> str:
    """ "create XGBoostJob ns/name" counts as "create XGBoostJob": a label per kind of call
    (and "GET /api/v1/namespaces/ns/pods on member-1" as "member GET")."""
    words = action.split()
    if words and words[0].isupper():
        return f"member {words[0]}"
    return " ".join(words[:2])


def _raise_for(exc: Exception, action: str) -> NoReturn:
    error = _error_from(exc, action)
    metrics.count("karmada_errors", _call_kind(action))
    if error is None:
        raise exc
    raise error from exc


class KarmadaClient:
    """A thin, typed wrapper around the Kubernetes client for one Karmada control plane."""

    def __init__(self, kubeconfig_path: str, *, timeout: tuple[float, float] | None = None) -> None:
        if not os.path.exists(kubeconfig_path):
            raise ClusterError(
                f"Karmada kubeconfig {kubeconfig_path} does not exist "
                "(check KARMADA_KUBECONFIG_PATH)",
                permanent=False,
            )
        configuration = k8s.Configuration()
        try:
            k8s_config.load_kube_config(
                config_file=kubeconfig_path, client_configuration=configuration
            )
        except Exception as exc:  # the loader raises bare exceptions of many kinds
            raise ClusterError(
                f"cannot load Karmada kubeconfig {kubeconfig_path}: {exc}", permanent=False
            ) from exc
        # One sync lists every kind each second: keep the pool warm instead of reconnecting.
        configuration.connection_pool_maxsize = 8
        configuration.retries = False
        self.api = k8s.ApiClient(configuration)
        self.custom = k8s.CustomObjectsApi(self.api)
        self.core = k8s.CoreV1Api(self.api)
        # (connect, read): urllib3 applies the read timeout to each wait for bytes, so a
        # server that accepts the connection and then hangs (SIGSTOP) costs at most their sum.
        self.timeout = timeout or (settings.KARMADA_CONNECT_TIMEOUT, settings.KARMADA_READ_TIMEOUT)
        # Namespaces this process made sure exist, and until when it trusts that.
        self._namespaces: dict[str, float] = {}

    def _call(
        self,
        action: str,
        request: Callable[[], T],
        *,
        tolerate: dict[int, Callable[[], T]] | None = None,
    ) -> T:
        """Run one API request; errors become ClusterError, except the statuses in
        ``tolerate``, which answer with their callable's result instead."""
        metrics.count("karmada_requests", _call_kind(action))
        try:
            return request()
        except ApiException as exc:
            if tolerate and exc.status in tolerate:
                return tolerate[exc.status]()
            _raise_for(exc, action)
        except Exception as exc:
            _raise_for(exc, action)

    # --- generic objects -----------------------------------------------------------
    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create ``obj``; if it already exists, return the existing one (a retried create)."""
        ref = ref_for(obj)
        action = f"create {ref.kind} {ref.namespace}/{ref.name}"

        def existing() -> dict[str, Any]:
            found = self.get(ref)
            if found is None:  # 409 for an object that vanished since: try again later
                raise ClusterError(f"{action}: conflict, then not found", permanent=False)
            return found

        try:
            return self._create(ref, obj, action, existing)
        except ClusterError as exc:
            if exc.status == 404 and ref.namespace in self._namespaces:
                # The namespace was deleted behind our back: make it again on the retry.
                del self._namespaces[ref.namespace]
                raise ClusterError(
                    f"{action}: namespace {ref.namespace} is gone; it is re-created on the retry",
                    permanent=False,
                    status=404,
                ) from exc
            raise

    def _create(
        self,
        ref: ResourceRef,
        obj: dict[str, Any],
        action: str,
        existing: Callable[[], dict[str, Any]],
    ) -> dict[str, Any]:
        return self._call(
            action,
            lambda: self.custom.create_namespaced_custom_object(
                ref.group,
                ref.version,
                ref.namespace,
                ref.plural,
                obj,
                _request_timeout=self.timeout,
            ),
            tolerate={409: existing},
        )

    def get(self, ref: ResourceRef) -> dict[str, Any] | None:
        return self._call(
            f"get {ref.kind} {ref.namespace}/{ref.name}",
            lambda: self.custom.get_namespaced_custom_object(
                ref.group,
                ref.version,
                ref.namespace,
                ref.plural,
                ref.name,
                _request_timeout=self.timeout,
            ),
            tolerate={404: lambda: None},
        )

    def delete(self, ref: ResourceRef, *, uid: str | None = None) -> bool:
        """Delete; True when the object is gone or going (404 counts as done). With ``uid``
        only that very object is deleted, not one re-created under its name since (409)."""
        options = k8s.V1DeleteOptions(
            propagation_policy="Background",
            preconditions=k8s.V1Preconditions(uid=uid) if uid else None,
        )
        self._call(
            f"delete {ref.kind} {ref.namespace}/{ref.name}",
            lambda: self.custom.delete_namespaced_custom_object(
                ref.group,
                ref.version,
                ref.namespace,
                ref.plural,
                ref.name,
                body=options,
                _request_timeout=self.timeout,
            ),
            tolerate={404: lambda: None, 409: lambda: None} if uid else {404: lambda: None},
        )
        return True

    def list(
        self, group: str, version: str, plural: str, *, label_selector: str = ""
    ) -> list[dict]:
        """Every object of one kind in every namespace: the sync's one request per kind.

        A 404 is an error, not an empty list: the kind is not served right now (a CRD being
        re-installed, an API server answering before its CRDs are loaded), which says nothing
        about whether its objects exist.
        """
        result = self._call(
            f"list {plural}.{group}",
            lambda: self.custom.list_cluster_custom_object(
                group,
                version,
                plural,
                label_selector=label_selector,
                _request_timeout=self.timeout,
            ),
        )
        return result.get("items", [])

    def ensure_namespace(self, name: str) -> None:
        """Karmada propagates namespaces to its members itself, labels included; it only
        needs to exist here. One the platform creates gets the Pod Security level of
        settings.POD_SECURITY_LEVEL; an existing namespace is left as its owner made it."""
        # A burst of jobs mostly goes to a handful of namespaces: asking once per process and
        # namespace saves a request per submit. A namespace deleted since shows up as a 404 on
        # create, which forgets it (see create).
        if self._namespaces.get(name, 0.0) > time.monotonic():
            return
        body = k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name, labels=namespace_labels()))
        self._call(
            f"create namespace {name}",
            lambda: self.core.create_namespace(body, _request_timeout=self.timeout),
            tolerate={409: lambda: None},
        )
        self._namespaces[name] = time.monotonic() + NAMESPACE_KNOWN_SECONDS

    # --- Karmada objects -------------------------------------------------------------
    def list_clusters(self) -> builtins.list[dict]:
        return self.list("cluster.karmada.io", "v1alpha1", "clusters")

    def list_resource_bindings(self) -> builtins.list[dict]:
        # Bindings do not carry the template's labels, so the sync lists them all and
        # matches by name (karmada.binding_name); one request whatever the number of jobs.
        return self.list("work.karmada.io", "v1alpha2", "resourcebindings")

    # --- list + watch: what changed since the last look --------------------------------
    def list_collection(
        self, collection: Collection, *, label_selector: str = ""
    ) -> tuple[builtins.list[dict], str]:
        """Every object of ``collection`` and the collection's resourceVersion, the point a
        watch resumes from. A 404 is an error (the kind is not served right now)."""
        action = f"list {collection.label}"
        query = [("labelSelector", label_selector)] if label_selector else []
        metrics.count("karmada_requests", _call_kind(action))
        try:
            response = self._raw_get(collection.path, query, self.timeout)
            body = json.loads(response.data)
        except Exception as exc:
            _raise_for(exc, action)
        return body.get("items") or [], (body.get("metadata") or {}).get("resourceVersion", "")

    def watch_collection(
        self,
        collection: Collection,
        *,
        resource_version: str,
        label_selector: str = "",
        idle: float,
        limit: float,
    ) -> tuple[builtins.list[tuple[str, dict]], str]:
        """The changes to ``collection`` after ``resource_version``: (events, the version to
        resume from). Reads until the stream is quiet for ``idle`` seconds or ``limit``
        seconds have passed; the API server replays what happened since the version from
        its watch cache at once, so a quiet moment means "caught up for now".

        Raises ResourceVersionGone when the version is too old to resume from (410: list
        again), and ClusterError when the server does not answer.
        """
        action = f"watch {collection.label}"
        query = [
            ("watch", "1"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            # The server ends a watch the platform forgot to close.
            ("timeoutSeconds", str(int(limit) + 5)),
        ]
        if label_selector:
            query.append(("labelSelector", label_selector))
        metrics.count("karmada_requests", _call_kind(action))
        connect = self.timeout[0]
        try:
            # Headers come as soon as the watch is set up: a server that sends none within
            # the read timeout is in trouble like any other that does not answer.
            response = self._raw_get(collection.path, query, (connect, self.timeout[1]))
        except Exception as exc:
            _raise_for(exc, action)
        events: builtins.list[tuple[str, dict]] = []
        version = resource_version
        deadline = time.monotonic() + limit
        buffer = b""
        try:
            _set_read_timeout(response, idle)
            while time.monotonic() < deadline:
                try:
                    chunk = response.read1(65536) if hasattr(response, "read1") else b""
                except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
                    break  # quiet: caught up
                except (urllib3.exceptions.ProtocolError, OSError):
                    break  # the server ended the stream: resume from what was read
                if not chunk:
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for raw in lines:
                    if not raw.strip():
                        continue
                    event = json.loads(raw)
                    kind, obj = event.get("type", ""), event.get("object") or {}
                    if kind == "ERROR":
                        if obj.get("code") == 410:
                            raise ResourceVersionGone(
                                f"{action}: version {resource_version} is too old "
                                f"({obj.get('message', 'gone')})"
                            )
                        raise ClusterError(
                            f"{action}: {obj.get('message', 'watch error')}",
                            permanent=False,
                            status=obj.get("code"),
                        )
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    if kind != "BOOKMARK":
                        events.append((kind, obj))
        finally:
            response.close()
            response.release_conn()
        return events, version

    def _raw_get(self, path: str, query: builtins.list[tuple[str, str]], timeout: Any) -> Any:
        return self.api.call_api(
            path,
            "GET",
            query_params=query,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
            _request_timeout=timeout,
        )

    # --- member clusters through Karmada's cluster proxy -------------------------------
    def member_get(
        self, cluster: str, path: str, *, query: dict[str, str] | None = None, raw: bool = False
    ) -> Any:
        """GET ``path`` (``/api/v1/...``) on a member cluster through Karmada's proxy."""
        full = f"/apis/cluster.karmada.io/v1alpha1/clusters/{cluster}/proxy{path}"
        metrics.count("karmada_requests", "member GET")
        try:
            response = self.api.call_api(
                full,
                "GET",
                query_params=list((query or {}).items()),
                header_params={"Accept": "application/json, */*"},
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=self.timeout,
            )
            body = response.data.decode("utf-8", errors="replace")
            return body if raw else json.loads(body)
        except Exception as exc:
            _raise_for(exc, f"GET {path} on {cluster}")

    def member_pods(self, cluster: str, namespace: str, label_selector: str) -> builtins.list[dict]:
        result = self.member_get(
            cluster, f"/api/v1/namespaces/{namespace}/pods", query={"labelSelector": label_selector}
        )
        return result.get("items", [])

    def member_pods_all_namespaces(self, cluster: str, label_selector: str) -> builtins.list[dict]:
        result = self.member_get(cluster, "/api/v1/pods", query={"labelSelector": label_selector})
        return result.get("items", [])

    def member_events(
        self, cluster: str, namespace: str, *, field_selector: str, limit: int
    ) -> builtins.list[dict]:
        """Events of one namespace of a member, selected by field (events can be selected
        by their object's exact name, not by a prefix)."""
        result = self.member_get(
            cluster,
            f"/api/v1/namespaces/{namespace}/events",
            query={"fieldSelector": field_selector, "limit": str(limit)},
        )
        return result.get("items", [])

    def list_events(
        self, namespace: str, *, field_selector: str, limit: int
    ) -> builtins.list[dict]:
        """Events on the Karmada control plane (its controllers record them on the
        templates and bindings they act on)."""
        result = self._call(
            f"list events {namespace}",
            lambda: self.api.sanitize_for_serialization(
                self.core.list_namespaced_event(
                    namespace,
                    field_selector=field_selector,
                    limit=limit,
                    _request_timeout=self.timeout,
                )
            ),
        )
        return result.get("items", [])

    def member_pod_log(
        self,
        cluster: str,
        namespace: str,
        pod: str,
        *,
        tail_lines: int | None = 500,
        container: str | None = None,
        timestamps: bool = False,
        since_time: str | None = None,
    ) -> str:
        query: dict[str, str] = {}
        if tail_lines is not None:
            query["tailLines"] = str(tail_lines)
        # A pod with sidecars refuses a log request that does not name the container.
        if container:
            query["container"] = container
        if timestamps:
            query["timestamps"] = "true"
        if since_time:
            query["sinceTime"] = since_time
        return self.member_get(
            cluster, f"/api/v1/namespaces/{namespace}/pods/{pod}/log", query=query, raw=True
        )

    def member_pod_log_chunks(
        self, cluster: str, namespace: str, pod: str, *, container: str | None = None
    ) -> Iterator[bytes]:
        """The whole log of one container, as it arrives, without holding it in memory."""
        query = {"container": container} if container else {}
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}/log"
        full = f"/apis/cluster.karmada.io/v1alpha1/clusters/{cluster}/proxy{path}"
        try:
            response = self.api.call_api(
                full,
                "GET",
                query_params=list(query.items()),
                header_params={"Accept": "*/*"},
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=self.timeout,
            )
        except Exception as exc:
            _raise_for(exc, f"GET {path} on {cluster}")
        try:
            yield from response.stream(64 * 1024)
        except Exception as exc:
            _raise_for(exc, f"GET {path} on {cluster}")
        finally:
            response.release_conn()

    def member_pod_log_tail(
        self,
        cluster: str,
        namespace: str,
        pod: str,
        *,
        max_bytes: int,
        container: str | None = None,
    ) -> tuple[bytes, bool]:
        """The last ``max_bytes`` of a container's log (cut at a line start) and whether
        anything before them was dropped. Memory stays about ``max_bytes`` whatever the
        log's size: the API can only cut a log's head (``limitBytes``), not its tail."""
        kept = bytearray()
        truncated = False
        for chunk in self.member_pod_log_chunks(cluster, namespace, pod, container=container):
            kept += chunk
            if len(kept) > max_bytes:
                del kept[: len(kept) - max_bytes]
                truncated = True
        if truncated:
            newline = kept.find(b"\n")
            if 0 <= newline < len(kept) - 1:
                del kept[: newline + 1]
        return bytes(kept), truncated


_local = threading.local()


def get_client() -> KarmadaClient:
    """The process's client for the configured Karmada (rebuilt after a fork or config change)."""
    path = settings.KARMADA_KUBECONFIG_PATH
    if not path:
        raise ClusterError(
            "Karmada is not configured: set KARMADA_KUBECONFIG_PATH "
            "(make run starts a local testbed and sets it for you)",
            permanent=False,
        )
    key = (os.getpid(), path)
    cached = getattr(_local, "client", None)
    if cached is None or cached[0] != key:
        _local.client = (key, KarmadaClient(path))
    return _local.client[1]
