"""The kubeconfig files of the Karmada control plane and of each member."""

from __future__ import annotations

import base64

import yaml

from .layout import Layout


def _b64(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def write_kubeconfig(lay: Layout, cluster: str) -> None:
    context = "karmada-apiserver" if cluster == "karmada" else cluster
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": context,
                "cluster": {
                    "server": lay.apiserver_url(cluster),
                    "certificate-authority-data": _b64((lay.pki / "ca.crt").read_bytes()),
                },
            }
        ],
        "users": [
            {
                "name": f"{context}-admin",
                "user": {
                    "client-certificate-data": _b64((lay.pki / "admin.crt").read_bytes()),
                    "client-key-data": _b64((lay.pki / "admin.key").read_bytes()),
                },
            }
        ],
        "contexts": [
            {"name": context, "context": {"cluster": context, "user": f"{context}-admin"}}
        ],
        "current-context": context,
    }
    path = lay.kubeconfig(cluster)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    path.chmod(0o600)
