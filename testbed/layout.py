"""One testbed's layout: its state directory and its ports (all from one base), and the
state file a running testbed leaves behind."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path

from .config import HOME, MEMBERS
from .kube import Kube


def port_map(base: int) -> dict[str, int]:
    """Every listening port of the testbed, from one configurable base."""
    ports = {
        "etcd": base,
        "etcd-peer": base + 1,
        "karmada-apiserver": base + 10,
        "karmada-kube-controller-manager": base + 11,
        "karmada-aggregated-apiserver": base + 12,
        "karmada-webhook": base + 13,
        "karmada-webhook-metrics": base + 14,
        "karmada-webhook-health": base + 15,
        "karmada-controller-manager-metrics": base + 16,
        "karmada-controller-manager-health": base + 17,
        "karmada-scheduler-metrics": base + 18,
        "karmada-scheduler-health": base + 19,
    }
    for i, member in enumerate(MEMBERS, start=1):
        b = base + 20 * i
        ports[f"{member}-apiserver"] = b
        ports[f"{member}-kube-controller-manager"] = b + 1
        ports[f"{member}-kube-scheduler"] = b + 2
        ports[f"{member}-training-operator-metrics"] = b + 3
        ports[f"{member}-training-operator-health"] = b + 4
        ports[f"{member}-training-operator-webhook"] = b + 5
        ports[f"{member}-mpi-operator-health"] = b + 6
        ports[f"{member}-kwok"] = b + 7
        # Kubeflow Trainer v2 and the JobSet controller it runs on.
        ports[f"{member}-jobset-webhook"] = b + 8
        ports[f"{member}-jobset-health"] = b + 9
        ports[f"{member}-trainer-webhook"] = b + 10
        ports[f"{member}-trainer-health"] = b + 11
    return ports


def _port_busy(port: int) -> bool:
    # Bind the wildcard address: that also fails when something holds 127.0.0.1:port,
    # and mpi-operator binds the wildcard itself.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("", port))
        except OSError:
            return True
    return False


@dataclass
class Layout:
    home: Path
    base: int
    pod_run_seconds: float
    # Kubeflow Trainer v2 and JobSet run (started with the testbed when TESTBED_TRAINER_V2=1,
    # or later by runtime.ensure_trainer_v2()).
    trainer_v2: bool = False

    @property
    def ports(self) -> dict[str, int]:
        return port_map(self.base)

    @property
    def pki(self) -> Path:
        return self.home / "pki"

    def kubeconfig(self, cluster: str) -> Path:
        name = "karmada" if cluster == "karmada" else cluster
        return self.home / "kubeconfig" / f"{name}.yaml"

    def apiserver_url(self, cluster: str) -> str:
        return f"https://127.0.0.1:{self.ports[f'{cluster}-apiserver']}"

    def kube(self, cluster: str) -> Kube:
        return Kube(self.apiserver_url(cluster), self.pki)

    def token(self, member: str) -> str:
        return (self.home / "tokens" / f"{member}.token").read_text().strip()


def read_state(home: Path = HOME) -> dict | None:
    try:
        return json.loads((home / "state.json").read_text())
    except (OSError, ValueError):
        return None


def current_layout(home: Path = HOME) -> Layout | None:
    state = read_state(home)
    if not state:
        return None
    return Layout(home, state["port_base"], state["pod_run_seconds"], bool(state.get("trainer_v2")))
