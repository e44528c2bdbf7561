"""Is the testbed healthy, and what does it say about itself: health checks, the
`status` report, the export line and memory use."""

from __future__ import annotations

import ssl
import urllib.request
from pathlib import Path

from . import procs
from .components import processes
from .config import HOME, MEMBERS
from .kube import Kube, KubeError
from .layout import Layout, current_layout, read_state


def _ssl_context(lay: Layout) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(lay.pki / "ca.crt"))
    ctx.load_cert_chain(str(lay.pki / "admin.crt"), str(lay.pki / "admin.key"))
    return ctx


def url_ok(lay: Layout, url: str, timeout: float = 3) -> bool:
    try:
        ctx = _ssl_context(lay) if url.startswith("https") else None
        with urllib.request.urlopen(url, timeout=timeout, context=ctx) as resp:
            return resp.status == 200
    except Exception:
        return False


def cluster_ready(karmada: Kube, member: str) -> bool:
    try:
        obj = karmada.request(
            "GET", f"/apis/cluster.karmada.io/v1alpha1/clusters/{member}", timeout=5
        )
    except KubeError:
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (obj.get("status") or {}).get("conditions", [])
    )


def health_report(home: Path = HOME) -> tuple[bool, list[str]]:
    """(healthy, problems) of a running testbed, checked quickly."""
    lay = current_layout(home)
    if lay is None or not read_state(home).get("ready"):
        return False, ["no running testbed (no .testbed/state.json from a finished `up`)"]
    problems = [
        f"process {p.name} is not running" for p in processes(lay) if not procs.alive(home, p.name)
    ]
    if problems:
        return False, problems
    karmada = lay.kube("karmada")
    try:
        if not karmada.healthy():
            return False, ["karmada-apiserver is not ready"]
        for member in MEMBERS:
            if not cluster_ready(karmada, member):
                problems.append(f"Karmada Cluster {member} is not Ready")
    finally:
        karmada.close()
    return not problems, problems


def export_line(home: Path = HOME) -> str:
    return f"export KARMADA_KUBECONFIG_PATH={home / 'kubeconfig' / 'karmada.yaml'}"


def status_lines(home: Path = HOME) -> tuple[bool, list[str]]:
    lay = current_layout(home)
    if lay is None:
        marked = procs.marked_pids(home)
        extra = f" ({len(marked)} leftover processes: `up` or `down` cleans them)" if marked else ""
        return False, [f"testbed: down{extra}"]
    lines = [
        f"testbed: {home} (ports {lay.base}..{max(lay.ports.values())}, "
        f"pod run {lay.pod_run_seconds:g}s)"
    ]
    for p in processes(lay):
        info = procs.read_pidfile(home, p.name) or {}
        if not procs.alive(home, p.name):
            state = "down"
        elif p.health and not url_ok(lay, p.health):
            state = "up (not healthy)"
        else:
            state = "up"
        lines.append(f"  {p.name:42s} {state:18s} pid {info.get('pid', '-')}")
    karmada = lay.kube("karmada")
    try:
        for m in MEMBERS:
            lines.append(
                f"  Cluster {m:34s} {'Ready' if cluster_ready(karmada, m) else 'NOT Ready'}"
            )
    finally:
        karmada.close()
    healthy, _ = health_report(home)
    lines.append(f"healthy: {'yes' if healthy else 'no'}")
    return healthy, lines


def rss_bytes(home: Path = HOME) -> dict[str, int]:
    """Resident memory of each running testbed process (with its children)."""
    out = {}
    lay = current_layout(home)
    if lay is None:
        return out
    for p in processes(lay):
        info = procs.read_pidfile(home, p.name)
        if not info or not procs.alive(home, p.name):
            continue
        try:
            for line in Path(f"/proc/{info['pid']}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[p.name] = int(line.split()[1]) * 1024
        except OSError:
            pass
    return out
