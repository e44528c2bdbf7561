"""What each Kubeflow kind needs from a manifest, defined once per kind.

Several frameworks share a kind (LightGBM runs as an XGBoostJob, Horovod and DeepSpeed as
MPIJobs); keeping the kind's facts here means they cannot drift apart between them. Each
entry is the keyword arguments a ``Framework`` takes for its workload.
"""

from __future__ import annotations

from typing import Any

from clusters.karmada import plural

# The training-operator finds a job's container and port by these names (its *Default*
# constants); a job whose container or port is named otherwise stays Created for ever.
TFJOB: dict[str, Any] = {
    "kind": "TFJob",
    "api_version": "kubeflow.org/v1",
    "plural": plural("TFJob"),
    "container_name": "tensorflow",
    "port_name": "tfjob-port",
    "default_port": 2222,
    "layout": "chief_workers",
    "replica_specs_key": "tfReplicaSpecs",
}
PYTORCHJOB: dict[str, Any] = {
    "kind": "PyTorchJob",
    "api_version": "kubeflow.org/v1",
    "plural": plural("PyTorchJob"),
    "container_name": "pytorch",
    "port_name": "pytorchjob-port",
    "default_port": 23456,
    "layout": "master_workers",
    "replica_specs_key": "pytorchReplicaSpecs",
}
XGBOOSTJOB: dict[str, Any] = {
    "kind": "XGBoostJob",
    "api_version": "kubeflow.org/v1",
    "plural": plural("XGBoostJob"),
    "container_name": "xgboost",
    "port_name": "xgboostjob-port",
    "default_port": 9999,
    "layout": "master_workers",
    "replica_specs_key": "xgbReplicaSpecs",
}
JAXJOB: dict[str, Any] = {
    "kind": "JAXJob",
    "api_version": "kubeflow.org/v1",
    "plural": plural("JAXJob"),
    "container_name": "jax",
    "port_name": "jaxjob-port",
    "default_port": 6666,
    "layout": "workers",
    "replica_specs_key": "jaxReplicaSpecs",
}
# The mpi-operator takes each replica's first container, whatever its name, and talks ssh
# to the workers: no named port.
#
# Root: the workers run sshd, which mpirun on the launcher connects to. The operator mounts
# the job's ssh keys at /root/.ssh (mode 0600, owned by root: sshAuthMountPath's default),
# the built-in Horovod and DeepSpeed images run as root, and sshd needs the runtime's
# default capabilities (SETUID/SETGID/SYS_CHROOT for privilege separation, KILL for its
# child, and NET_BIND_SERVICE, which the operator's base image also sets as a file
# capability on sshd: with that capability dropped the kernel refuses to exec it). So MPI
# pods keep root and the default capabilities: the baseline Pod Security Standard, not
# restricted. They still get no service-account token (v2beta1 launchers do not call the
# API), no privilege escalation and the runtime's seccomp profile.
MPIJOB: dict[str, Any] = {
    "kind": "MPIJob",
    "api_version": "kubeflow.org/v2beta1",
    "plural": plural("MPIJob"),
    "container_name": "worker",
    "port_name": None,
    "default_port": None,
    "layout": "launcher_workers",
    "replica_specs_key": "mpiReplicaSpecs",
    "runs_as_root": True,
}
