"""A small Kubernetes REST helper for bootstrapping the testbed.

The typed clients of the `kubernetes` package need a class per kind and choke on
an aggregated API that is not served yet; bootstrapping applies arbitrary
manifests (CRDs, Karmada objects, APIServices) while parts of the control plane
are still starting, so this speaks plain REST through the package's HTTP client.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kubernetes import client

FIELD_MANAGER = "mlplatform-testbed"


class KubeError(RuntimeError):
    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class Kube:
    """REST access to one apiserver as the testbed admin (client certificate)."""

    def __init__(self, host: str, pki: Path):
        cfg = client.Configuration()
        cfg.host = host
        cfg.ssl_ca_cert = str(pki / "ca.crt")
        cfg.cert_file = str(pki / "admin.crt")
        cfg.key_file = str(pki / "admin.key")
        cfg.verify_ssl = True
        # Bootstrapping opens few connections; a small pool keeps file descriptors low.
        cfg.connection_pool_maxsize = 4
        self.host = host
        self._api = client.ApiClient(cfg)
        self._resources: dict[str, dict[str, tuple[str, bool]]] = {}

    def close(self) -> None:
        self._api.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
        timeout: float = 30,
    ) -> Any:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        try:
            resp = self._api.rest_client.request(
                method,
                self.host + path,
                query_params=list((query or {}).items()) or None,
                headers=headers,
                body=body,
                _request_timeout=timeout,
            )
        except client.ApiException as e:
            message = e.body or e.reason
            try:
                message = json.loads(e.body).get("message", message)
            except (TypeError, ValueError):
                pass
            raise KubeError(e.status or 0, str(message)) from None
        except Exception as e:  # urllib3 connection errors carry no status
            raise KubeError(0, f"{type(e).__name__}: {e}") from None
        data = resp.data
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError:
            return data

    def healthy(self, path: str = "/readyz") -> bool:
        try:
            return self.request("GET", path, timeout=5) == "ok"
        except KubeError:
            return False

    # -- resource paths -------------------------------------------------------

    def _resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) for a kind, from the group version's discovery doc."""
        known = self._resources.get(api_version)
        if known is None or kind not in known:
            base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            doc = self.request("GET", base)
            known = {
                r["kind"]: (r["name"], r["namespaced"])
                for r in doc.get("resources", [])
                if "/" not in r["name"]
            }
            self._resources[api_version] = known
        if kind not in known:
            raise KubeError(404, f"{kind} is not served by {api_version}")
        return known[kind]

    def path(self, api_version: str, kind: str, name: str = "", namespace: str = "") -> str:
        plural, namespaced = self._resource(api_version, kind)
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        if namespaced:
            base += f"/namespaces/{namespace or 'default'}"
        base += f"/{plural}"
        return f"{base}/{name}" if name else base

    # -- verbs ----------------------------------------------------------------

    def apply(self, obj: dict) -> dict:
        """Server-side apply: idempotent, and has no size limit from a last-applied annotation."""
        meta = obj["metadata"]
        path = self.path(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace", ""))
        return self.request(
            "PATCH",
            path,
            body=obj,
            query={"fieldManager": FIELD_MANAGER, "force": "true"},
            content_type="application/apply-patch+yaml",
            timeout=120,
        )

    def apply_all(self, objs: Iterable[dict]) -> None:
        for obj in objs:
            self.apply(obj)

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> dict | None:
        try:
            return self.request("GET", self.path(api_version, kind, name, namespace))
        except KubeError as e:
            if e.status == 404:
                return None
            raise

    def list(self, api_version: str, kind: str, namespace: str = "") -> list[dict]:
        return self.request("GET", self.path(api_version, kind, namespace=namespace))["items"]

    def delete(self, api_version: str, kind: str, name: str, namespace: str = "") -> None:
        try:
            self.request("DELETE", self.path(api_version, kind, name, namespace))
        except KubeError as e:
            if e.status != 404:
                raise
