"""Python entry point for tests: get a running testbed, starting it when needed.

    from testbed.api import ensure_up
    tb = ensure_up()
    tb.karmada_kubeconfig          # Path to .testbed/kubeconfig/karmada.yaml
    tb.member_kubeconfig("member-cluster-1")
    tb.members                     # ["member-cluster-1", "member-cluster-2"]
    tb.kube("member-cluster-1")    # REST access as the testbed admin (testbed.kube.Kube)
    tb.pid("karmada-apiserver")    # live pid of one process, for tests that signal it
    tb.restart("member-cluster-1-mpi-operator")   # start one process again
    ensure_trainer_v2()            # the same, with Kubeflow Trainer v2 and JobSet running

The testbed's processes are detached: they outlive the test session, so the next
session reuses them in about a second. `python testbed/testbed.py down` stops them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import procs, runtime
from .kube import Kube

FAIL_LABEL = runtime.FAIL_LABEL
FAIL_VALUE = "fail"
RUN_DURATION_ANNOTATION = runtime.RUN_DURATION_ANNOTATION


@dataclass(frozen=True)
class Testbed:
    __test__ = False  # a name starting with "Test" is not a pytest test class

    home: Path
    karmada_kubeconfig: Path
    members: list[str] = field(default_factory=lambda: list(runtime.MEMBERS))
    pod_run_seconds: float = runtime.DEFAULT_POD_RUN_SECONDS

    def member_kubeconfig(self, name: str) -> Path:
        if name not in self.members:
            raise KeyError(f"unknown member cluster {name!r}; members are {self.members}")
        return self.home / "kubeconfig" / f"{name}.yaml"

    @property
    def env(self) -> dict[str, str]:
        """Environment for the platform: where its Karmada kubeconfig is."""
        return {"KARMADA_KUBECONFIG_PATH": str(self.karmada_kubeconfig)}

    def kube(self, cluster: str) -> Kube:
        """REST access to "karmada" or a member's apiserver as the testbed admin (client
        certificate); close() it when done."""
        lay = runtime.current_layout(self.home)
        if lay is None:
            raise RuntimeError(f"no running testbed in {self.home}")
        return lay.kube(cluster)

    def pid(self, process: str) -> int:
        """The pid of one running testbed process, named as `testbed.py status` names it
        (e.g. "karmada-apiserver", "member-cluster-1-apiserver"), for tests that inject
        faults by signalling it. Checked against the pidfile's start time, so a reused pid
        is never returned."""
        info = procs.read_pidfile(self.home, process)
        if not info or not procs.alive(self.home, process):
            raise RuntimeError(
                f"testbed process {process} is not running; see {self.home}/logs/{process}.log"
            )
        return int(info["pid"])

    def stopped_processes(self) -> list[str]:
        """Processes of this testbed that are not running (e.g. mpi-operator, which exits
        when it cannot renew its lease while a fault test has its apiserver stopped)."""
        lay = runtime.current_layout(self.home)
        if lay is None:
            raise RuntimeError(f"no running testbed in {self.home}")
        return [p.name for p in runtime.processes(lay) if not procs.alive(self.home, p.name)]

    def restart(self, process: str) -> None:
        """Start one testbed process again with its usual command line, stopping it first
        if it still runs; does not wait for it to be healthy (see healthy())."""
        lay = runtime.current_layout(self.home)
        if lay is None:
            raise RuntimeError(f"no running testbed in {self.home}")
        plist = {p.name: p for p in runtime.processes(lay)}
        if process not in plist:
            raise KeyError(f"unknown testbed process {process!r}; processes are {list(plist)}")
        info = procs.read_pidfile(self.home, process)
        if info and procs.alive(self.home, process):
            procs.stop_pids([info["pid"]])
        proc = plist[process]
        procs.start(process, proc.argv, home=self.home, env=proc.env)

    def healthy(self) -> tuple[bool, list[str]]:
        """(healthy, problems): every process up, Karmada ready, every Cluster Ready."""
        return runtime.health_report(self.home)


def _testbed(lay: runtime.Layout) -> Testbed:
    return Testbed(
        home=lay.home,
        karmada_kubeconfig=lay.kubeconfig("karmada"),
        pod_run_seconds=lay.pod_run_seconds,
    )


def ensure_up(timeout: float = 900, *, build_if_missing: bool = True) -> Testbed:
    """Reuse the running testbed when healthy, else start it (building binaries first if
    they are missing: that alone takes tens of minutes on a cold cache).

    Raises RuntimeError, saying how to start and diagnose it by hand, when it cannot.
    """
    try:
        lay = runtime.up(timeout=timeout, log=_log, build_if_missing=build_if_missing)
    except (RuntimeError, TimeoutError, OSError) as e:
        raise RuntimeError(
            f"The local Karmada testbed could not be started: {e}\n"
            f"Start it by hand to see its progress: `.venv/bin/python testbed/testbed.py up`; "
            f"`python testbed/testbed.py status` shows which process is down, and each process "
            f"logs to {runtime.HOME / 'logs'}/<process>.log (karmada-controller-manager.log for "
            f"cluster readiness, <member>-training-operator.log for jobs). "
            f"`python testbed/testbed.py down` clears a broken state."
        ) from e
    return _testbed(lay)


def ensure_trainer_v2(timeout: float = 900) -> Testbed:
    """The testbed with Kubeflow Trainer v2 and JobSet running in both members (their CRDs,
    webhooks and runtimes installed), started on a running testbed when missing: about a
    minute the first time, then reused like the rest."""
    ensure_up(timeout)
    try:
        lay = runtime.ensure_trainer_v2(log=_log)
    except (RuntimeError, TimeoutError, OSError) as e:
        raise RuntimeError(
            f"Kubeflow Trainer v2 could not be started on the testbed: {e}\n"
            f"See {runtime.HOME / 'logs'}/<member>-jobset.log and <member>-trainer.log; "
            "`python testbed/testbed.py status` shows which process is down."
        ) from e
    return _testbed(lay)


def current() -> Testbed | None:
    """The running testbed when healthy, without starting anything."""
    healthy, _ = runtime.health_report()
    lay = runtime.current_layout()
    return _testbed(lay) if healthy and lay else None


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
