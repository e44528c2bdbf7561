"""Start and stop the local multi-cluster testbed (its lifecycle; the pieces it puts
together live beside it: config, binaries, layout, components, kubeconfig, kwok, objects
and status).

One etcd, a Karmada control plane and two member clusters, every component a plain
process on 127.0.0.1 (there is no container runtime). Layout of the state directory
(`.testbed/` at the repository root unless TESTBED_HOME says otherwise):

    pki/            CA and certificates (regenerated on every clean start)
    kubeconfig/     karmada.yaml, member-cluster-1.yaml, member-cluster-2.yaml
    logs/<proc>.log one log per process
    run/<proc>.pid  pidfiles; state.json describes the running testbed
    etcd/           etcd data (wiped on every clean start)
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import pki, procs
from .binaries import binaries_ready, build
from .components import Proc, is_trainer_v2, kube_scheduler_config, process_names, processes
from .config import (
    CACHE,
    DEFAULT_POD_RUN_SECONDS,
    FAIL_LABEL,
    HOME,
    MEMBERS,
    RUN_DURATION_ANNOTATION,
    Log,
    _stderr,
    requested_pod_run_seconds,
    requested_port_base,
    requested_trainer_v2,
)
from .kube import Kube, KubeError
from .kubeconfig import write_kubeconfig
from .kwok import write_kwok_config
from .layout import Layout, _port_busy, current_layout, read_state
from .objects import (
    interpreter_customizations,
    join_objects,
    karmada_crds,
    karmada_objects,
    kubeflow_crds,
    member_objects,
    node_objects,
    trainer_crds,
    trainer_runtimes,
    trainer_webhooks,
)
from .polling import wait_for
from .status import cluster_ready, export_line, health_report, status_lines, url_ok

# The testbed's public face (testbed/api.py, the testbed.py CLI and the tests use these
# through this module): start, stop and look at it.
__all__ = [
    "DEFAULT_POD_RUN_SECONDS",
    "FAIL_LABEL",
    "HOME",
    "MEMBERS",
    "RUN_DURATION_ANNOTATION",
    "Layout",
    "current_layout",
    "down",
    "ensure_trainer_v2",
    "export_line",
    "health_report",
    "status_lines",
    "up",
]


def prepare_files(lay: Layout) -> None:
    pki.generate(lay.pki)
    # karmada-webhook reads tls.crt/tls.key from one directory.
    serving = lay.pki / "serving"
    serving.mkdir(exist_ok=True)
    shutil.copy(lay.pki / "server.crt", serving / "tls.crt")
    shutil.copy(lay.pki / "server.key", serving / "tls.key")

    tokens = lay.home / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    for member in MEMBERS:
        token = base64.b32encode(os.urandom(20)).decode().lower()
        (tokens / f"{member}.token").write_text(token)
        (tokens / f"{member}.csv").write_text(f'{token},karmada,karmada,"system:masters"\n')

    for cluster in ["karmada", *MEMBERS]:
        write_kubeconfig(lay, cluster)
    write_kwok_config(lay)
    (lay.home / "kube-scheduler").mkdir(parents=True, exist_ok=True)
    for member in MEMBERS:
        (lay.home / "kube-scheduler" / f"{member}.yaml").write_text(
            json.dumps(kube_scheduler_config(lay, member), indent=2)
        )

    for member in MEMBERS:
        certs = (
            lay.home
            / "run"
            / f"{member}-training-operator"
            / "k8s-webhook-server"
            / "serving-certs"
        )
        certs.mkdir(parents=True, exist_ok=True)
        shutil.copy(lay.pki / "server.crt", certs / "tls.crt")
        shutil.copy(lay.pki / "server.key", certs / "tls.key")
    for member in MEMBERS:
        _write_trainer_configs(lay, member)
    # The training-operator's certificate rotator waits until this fixed path holds a
    # certificate (in a pod, the mounted Secret); only its existence is checked.
    marker = Path("/tmp/k8s-webhook-server/serving-certs")
    if not (marker / "tls.crt").exists():
        marker.mkdir(parents=True, exist_ok=True)
        shutil.copy(lay.pki / "server.crt", marker / "tls.crt")
        shutil.copy(lay.pki / "server.key", marker / "tls.key")


def _write_trainer_configs(lay: Layout, member: str) -> None:
    """Configuration files of one member's JobSet controller and Trainer controller manager:
    local ports, one instance (no leader election), metrics off (both default to a
    secure :8443), and webhook certificates provided by the testbed (signed by its CA) in
    place of the certificates each would otherwise generate and inject into its webhook
    configurations, which name in-cluster Services a process on 127.0.0.1 cannot be."""
    p = lay.ports
    jobset = lay.home / "run" / f"{member}-jobset"
    trainer = lay.home / "run" / f"{member}-trainer"
    jobset_certs = jobset / "serving-certs"
    trainer_certs = trainer / "k8s-webhook-server" / "serving-certs"
    for certs in (jobset_certs, trainer_certs):
        certs.mkdir(parents=True, exist_ok=True)
        shutil.copy(lay.pki / "server.crt", certs / "tls.crt")
        shutil.copy(lay.pki / "server.key", certs / "tls.key")
    jobset_cfg = {
        "apiVersion": "config.jobset.x-k8s.io/v1alpha1",
        "kind": "Configuration",
        "leaderElection": {"leaderElect": False},
        "internalCertManagement": {"enable": False},
        "webhook": {
            "host": "127.0.0.1",
            "port": p[f"{member}-jobset-webhook"],
            "certDir": str(jobset_certs),
        },
        "metrics": {"bindAddress": "0", "certDir": str(jobset_certs)},
        "health": {"healthProbeBindAddress": f"127.0.0.1:{p[f'{member}-jobset-health']}"},
    }
    trainer_cfg = {
        "apiVersion": "config.trainer.kubeflow.org/v1alpha1",
        "kind": "Configuration",
        "leaderElection": {"leaderElect": False},
        "certManagement": {"enable": False},
        "webhook": {"host": "127.0.0.1", "port": p[f"{member}-trainer-webhook"]},
        "metrics": {"bindAddress": "0", "secureServing": False},
        "health": {
            "healthProbeBindAddress": f"127.0.0.1:{p[f'{member}-trainer-health']}",
            "readinessEndpointName": "readyz",
            "livenessEndpointName": "healthz",
        },
    }
    (jobset / "config.yaml").write_text(json.dumps(jobset_cfg, indent=2))
    (trainer / "config.yaml").write_text(json.dumps(trainer_cfg, indent=2))


@contextlib.contextmanager
def lock(home: Path = HOME) -> Iterator[None]:
    """One `up`/`down` at a time per state directory (pytest and `make run` may race)."""
    # Outside the state directory, which `down` removes; not under $TMPDIR, which may
    # differ between the processes that race.
    digest = hashlib.sha256(str(home).encode()).hexdigest()[:16]
    path = CACHE / "locks" / f"{digest}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class Phases:
    """Prints progress and times each phase of a start."""

    def __init__(self, log: Log):
        self.log = log
        self.start = time.monotonic()
        self.times: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        t = time.monotonic()
        self.log(f"[testbed] {time.monotonic() - self.start:6.1f}s  {name} ...")
        yield
        took = time.monotonic() - t
        self.times.append((name, took))
        self.log(f"[testbed] {time.monotonic() - self.start:6.1f}s  {name}: done in {took:.1f}s")

    @property
    def total(self) -> float:
        return time.monotonic() - self.start


def _start(lay: Layout, proc: Proc, started: dict[str, subprocess.Popen]) -> None:
    started[proc.name] = procs.start(proc.name, proc.argv, home=lay.home, env=proc.env)


def _check_alive(lay: Layout, started: dict[str, subprocess.Popen]) -> None:
    for name, popen in started.items():
        code = popen.poll()
        if code is not None:
            log_path = lay.home / "logs" / f"{name}.log"
            raise RuntimeError(
                f"{name} exited with code {code} while the testbed was starting. "
                f"Last lines of {log_path}:\n{procs.tail(log_path)}"
            )


def _wait_healthy(lay: Layout, plist: list[Proc], started: dict, timeout: float) -> None:
    pending = [p for p in plist if p.health]
    deadline = time.monotonic() + timeout
    while pending:
        _check_alive(lay, started)
        pending = [p for p in pending if not url_ok(lay, p.health)]
        if not pending:
            return
        if time.monotonic() > deadline:
            names = ", ".join(f"{p.name} ({p.health})" for p in pending)
            logs = ", ".join(str(lay.home / "logs" / f"{p.name}.log") for p in pending)
            raise RuntimeError(f"timed out waiting for {names} to report healthy; see {logs}")
        time.sleep(0.3)


def _crd_established(kube: Kube, name: str) -> bool:
    """Established, and its objects can be listed: for a moment after Established the API
    server answers a LIST with 429 "storage is (re)initializing" (its watch cache for the
    resource is still filling), which a test's first status sync on a fresh testbed got.
    That 429 is a KubeError, which the caller's wait retries."""
    crd = kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
    established = bool(crd) and any(
        c["type"] == "Established" and c["status"] == "True"
        # A CRD just created may carry "conditions": null.
        for c in (crd.get("status") or {}).get("conditions") or []
    )
    if not established:
        return False
    spec = crd["spec"]
    version = next(v["name"] for v in spec["versions"] if v.get("storage"))
    kube.request(
        "GET", f"/apis/{spec['group']}/{version}/{spec['names']['plural']}", query={"limit": "1"}
    )
    return True


def _stop_everything(home: Path) -> int:
    # Everything is thrown away (etcd data included), so a graceful apiserver shutdown,
    # which drains watches for 10s and more, buys nothing: a short grace, then SIGKILL.
    return procs.stop_all(home, process_names(), grace=1.0)


def _clean_home(home: Path) -> None:
    if home.exists():
        shutil.rmtree(home)


def up(*, timeout: float = 600, log: Log = _stderr, build_if_missing: bool = True) -> Layout:
    """Reuse a healthy testbed, or start one from scratch. Returns its layout."""
    phases = Phases(log)
    with lock():
        healthy, problems = health_report()
        if not healthy and current_layout() is not None and read_state().get("ready"):
            # Processes up but a Cluster momentarily not Ready (e.g. right after a
            # heavy test): give it a short grace period before paying for a restart.
            lay = current_layout()
            if all(procs.alive(HOME, p.name) for p in processes(lay)):
                deadline = time.monotonic() + 30
                while not healthy and time.monotonic() < deadline:
                    time.sleep(1)
                    healthy, problems = health_report()
        if healthy:
            lay = current_layout()
            _refresh_pod_run_seconds(lay, log)
            if requested_trainer_v2() and not lay.trainer_v2:
                _add_trainer_v2(lay, phases)
            log(f"[testbed] reusing the running testbed ({phases.total:.1f}s)")
            return lay
        if current_layout() is not None or procs.marked_pids(HOME):
            log(f"[testbed] not reusable ({'; '.join(problems)}): starting clean")

        if not binaries_ready():
            if not build_if_missing:
                raise RuntimeError("testbed binaries are missing: run `bash testbed/build.sh`")
            with phases.phase("build binaries (testbed/build.sh)"):
                build(log)

        lay = Layout(
            HOME, requested_port_base(), requested_pod_run_seconds(), requested_trainer_v2()
        )
        plist = {p.name: p for p in processes(lay)}
        started: dict[str, subprocess.Popen] = {}
        try:
            _up(lay, plist, started, phases, timeout)
        except BaseException:
            # Half a testbed only costs memory; the logs stay for diagnosis and the next
            # `up` starts clean anyway.
            _stop_everything(HOME)
            logs = f", logs kept in {HOME / 'logs'}" if (HOME / "logs").is_dir() else ""
            log(f"[testbed] start failed after {phases.total:.1f}s; processes stopped{logs}")
            raise
        state = {
            "port_base": lay.base,
            "pod_run_seconds": lay.pod_run_seconds,
            "trainer_v2": lay.trainer_v2,
            "ready": True,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "start_seconds": round(phases.total, 1),
            "phases": {name: round(t, 1) for name, t in phases.times},
        }
        (HOME / "state.json").write_text(json.dumps(state, indent=2))
        log(
            f"[testbed] up in {phases.total:.1f}s: "
            + ", ".join(f"{n} {t:.1f}s" for n, t in phases.times)
        )
        return lay


def _up(lay: Layout, plist: dict[str, Proc], started: dict, phases: Phases, timeout: float) -> None:
    deadline = time.monotonic() + timeout

    def left() -> float:
        return max(5.0, deadline - time.monotonic())

    def start(*names: str) -> None:
        for name in names:
            _start(lay, plist[name], started)

    def log_hint(name: str) -> Callable[[], str]:
        return lambda: f"see {lay.home / 'logs' / f'{name}.log'}"

    with phases.phase("clean up leftovers"):
        stopped = _stop_everything(HOME)
        _clean_home(HOME)
        # A killed Go process shows as exited (zombie main thread) a moment before its
        # other threads are gone and its sockets closed: give the ports a few seconds.
        busy_until = time.monotonic() + (15 if stopped else 0)
        while True:
            busy = [f"{name}={port}" for name, port in lay.ports.items() if _port_busy(port)]
            if not busy or time.monotonic() > busy_until:
                break
            time.sleep(0.2)
        if busy:
            more = f" and {len(busy) - 4} more" if len(busy) > 4 else ""
            raise RuntimeError(
                f"ports needed by the testbed are in use by other programs: "
                f"{', '.join(busy[:4])}{more}. "
                f"Set TESTBED_PORT_BASE to another base (the testbed uses "
                f"{lay.base}..{max(lay.ports.values())})."
            )

    with phases.phase("certificates and config"):
        prepare_files(lay)

    with phases.phase("etcd"):
        start("etcd")
        _wait_healthy(lay, [plist["etcd"]], started, left())

    clusters = ["karmada", *MEMBERS]
    kubes = {c: lay.kube(c) for c in clusters}
    pool = ThreadPoolExecutor(max_workers=len(clusters))
    try:
        with phases.phase("apiservers"):
            start(*(f"{c}-apiserver" for c in clusters))
            for c in clusters:
                wait_for(
                    lambda c=c: (_check_alive(lay, started), kubes[c].healthy())[1],
                    message=f"{c}-apiserver /readyz",
                    retry_on=(KubeError,),
                    interval=0.5,
                    timeout=left(),
                    on_timeout=log_hint(f"{c}-apiserver"),
                )

        with phases.phase("Karmada CRDs and components, member controllers, kwok nodes"):
            for m in MEMBERS:
                start(f"{m}-kube-controller-manager", f"{m}-kube-scheduler", f"{m}-kwok")
                kubes[m].apply_all(node_objects(m))
                kubes[m].apply_all(member_objects())
            crds = karmada_crds(lay)
            kubes["karmada"].apply_all(crds)
            kubes["karmada"].apply_all(karmada_objects(lay))
            _wait_established(kubes["karmada"], crds, left())
            start(
                "karmada-kube-controller-manager",
                "karmada-aggregated-apiserver",
                "karmada-webhook",
                "karmada-controller-manager",
                "karmada-scheduler",
            )

        # Karmada's components take several seconds to sync their informers: install the
        # Kubeflow CRDs (large: each apiserver rebuilds its OpenAPI) meanwhile, one thread
        # per apiserver.
        with phases.phase("Kubeflow CRDs, member operators"):
            kubeflow = kubeflow_crds()

            def install(c: str) -> None:
                crds = kubeflow
                if lay.trainer_v2:
                    crds = crds + trainer_crds(member=c != "karmada")
                kubes[c].apply_all(crds)
                _wait_established(kubes[c], crds, left())

            for future in [pool.submit(install, c) for c in clusters]:
                future.result()
            for m in MEMBERS:
                start(f"{m}-training-operator", f"{m}-mpi-operator")
                if lay.trainer_v2:
                    start(f"{m}-jobset", f"{m}-trainer")

        with phases.phase("every process healthy, Karmada aggregated API available"):
            _wait_healthy(lay, list(plist.values()), started, left())
            wait_for(
                lambda: (
                    _check_alive(lay, started),
                    kubes["karmada"].request("GET", "/apis/cluster.karmada.io/v1alpha1"),
                )[1],
                message="APIService v1alpha1.cluster.karmada.io available",
                retry_on=(KubeError,),
                interval=0.5,
                timeout=left(),
                on_timeout=log_hint("karmada-aggregated-apiserver"),
            )

        if lay.trainer_v2:
            with phases.phase("Trainer v2 webhooks and runtimes"):
                _trainer_webhooks_and_runtimes(lay, kubes)

        with phases.phase("interpreter customizations, member join"):
            kubes["karmada"].apply_all(interpreter_customizations())
            for m in MEMBERS:
                kube_system = kubes[m].get("v1", "Namespace", "kube-system")
                kubes["karmada"].apply_all(join_objects(lay, m, kube_system["metadata"]["uid"]))

        with phases.phase("clusters Ready in Karmada, kwok nodes Ready"):
            for m in MEMBERS:
                wait_for(
                    lambda m=m: (_check_alive(lay, started), cluster_ready(kubes["karmada"], m))[1],
                    message=f"Karmada Cluster {m} Ready",
                    retry_on=(KubeError,),
                    interval=0.5,
                    timeout=left(),
                    on_timeout=log_hint("karmada-controller-manager"),
                )
                wait_for(
                    lambda m=m: _nodes_ready(kubes[m]),
                    message=f"kwok nodes Ready in {m}",
                    retry_on=(KubeError,),
                    interval=0.5,
                    timeout=left(),
                    on_timeout=log_hint(f"{m}-kwok"),
                )
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for k in kubes.values():
            k.close()


def _trainer_webhooks_and_runtimes(lay: Layout, kubes: dict[str, Kube]) -> None:
    # Webhooks only once their servers answer (failurePolicy Fail), and the runtimes after
    # Trainer's validating webhook is registered, as in a real install.
    for m in MEMBERS:
        kubes[m].apply_all(trainer_webhooks(lay, m))
        kubes[m].apply_all(trainer_runtimes())


def _add_trainer_v2(lay: Layout, phases: Phases, timeout: float = 300) -> None:
    """Start Kubeflow Trainer v2 on a running testbed: its CRDs (TrainJob in Karmada; the
    runtimes' and JobSet's too in the members), JobSet and Trainer in each member, their
    webhooks and the runtimes. Their CRDs are large (each apiserver rebuilds its OpenAPI),
    so a testbed pays for them only when a test or TESTBED_TRAINER_V2=1 asks."""
    deadline = time.monotonic() + timeout

    def left() -> float:
        return max(5.0, deadline - time.monotonic())

    clusters = ["karmada", *MEMBERS]
    kubes = {c: lay.kube(c) for c in clusters}
    v2 = Layout(lay.home, lay.base, lay.pod_run_seconds, trainer_v2=True)
    plist = [p for p in processes(v2) if is_trainer_v2(p.name)]
    started: dict[str, subprocess.Popen] = {}
    try:
        with phases.phase("Trainer v2 CRDs, JobSet and Trainer in the members"):
            with ThreadPoolExecutor(max_workers=len(clusters)) as pool:

                def install(c: str) -> None:
                    crds = trainer_crds(member=c != "karmada")
                    kubes[c].apply_all(crds)
                    _wait_established(kubes[c], crds, left())

                for future in [pool.submit(install, c) for c in clusters]:
                    future.result()
            for proc in plist:
                info = procs.read_pidfile(lay.home, proc.name)
                if info and procs.alive(lay.home, proc.name):
                    procs.stop_pids([info["pid"]])
                _start(lay, proc, started)
            _wait_healthy(lay, plist, started, left())
        with phases.phase("Trainer v2 webhooks and runtimes"):
            _trainer_webhooks_and_runtimes(lay, kubes)
    finally:
        for k in kubes.values():
            k.close()
    lay.trainer_v2 = True
    state = read_state(lay.home) or {}
    state["trainer_v2"] = True
    (lay.home / "state.json").write_text(json.dumps(state, indent=2))


def ensure_trainer_v2(*, log: Log = _stderr) -> Layout:
    """Kubeflow Trainer v2 and JobSet running on the running testbed (started if needed)."""
    phases = Phases(log)
    with lock():
        lay = current_layout()
        if lay is None:
            raise RuntimeError("no running testbed: start it first (`testbed.py up`)")
        v2 = Layout(lay.home, lay.base, lay.pod_run_seconds, trainer_v2=True)
        names = [p.name for p in processes(v2) if is_trainer_v2(p.name)]
        if lay.trainer_v2 and all(procs.alive(lay.home, n) for n in names):
            return lay
        _add_trainer_v2(lay, phases)
        log(f"[testbed] Trainer v2 started in {phases.total:.1f}s")
        return lay


def _wait_established(kube: Kube, crds: list[dict], timeout: float) -> None:
    names = [d["metadata"]["name"] for d in crds]
    wait_for(
        lambda: all(_crd_established(kube, n) for n in names),
        message=f"CRDs established in {kube.host}",
        retry_on=(KubeError,),
        interval=0.5,
        timeout=timeout,
    )


def _nodes_ready(kube: Kube) -> bool:
    nodes = kube.list("v1", "Node")
    return len(nodes) >= 4 and all(
        any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in n.get("status", {}).get("conditions", [])
        )
        for n in nodes
    )


def _refresh_pod_run_seconds(lay: Layout, log: Log) -> None:
    """Honour a changed TESTBED_POD_RUN_SECONDS (or changed kwok stages) on reuse by
    restarting only kwok."""
    wanted = requested_pod_run_seconds()
    before = lay.pod_run_seconds
    lay.pod_run_seconds = wanted
    if not write_kwok_config(lay) and wanted == before:
        return
    log(
        f"[testbed] kwok stages or TESTBED_POD_RUN_SECONDS ({before:g} -> {wanted:g}) "
        "changed: restarting kwok"
    )
    plist = {p.name: p for p in processes(lay)}
    for m in MEMBERS:
        name = f"{m}-kwok"
        info = procs.read_pidfile(lay.home, name)
        if info and procs.alive(lay.home, name):
            procs.stop_pids([info["pid"]])
        procs.start(name, plist[name].argv, home=lay.home, env=plist[name].env)
    state = read_state(lay.home)
    state["pod_run_seconds"] = wanted
    (lay.home / "state.json").write_text(json.dumps(state, indent=2))


def down(*, log: Log = _stderr) -> None:
    with lock():
        _stop_everything(HOME)
        _clean_home(HOME)
    log(f"[testbed] stopped; removed {HOME}")
