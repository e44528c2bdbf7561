"""Job -> [Kubeflow workload CR, Karmada PropagationPolicy], as plain dicts.

Pure: attribute reads on the job, nothing else; the same job always gives the same
manifests (hyperparameters are rendered in sorted order because PostgreSQL's jsonb does not
keep key order).

Decisions worth knowing (each is explained where it is made):

* restartPolicy: ``Never``; ``ExitCode`` for Kubeflow v1 kinds when runPolicy.backoffLimit > 0,
  so only processes killed by a signal (exit code >= 128: OOM-kill, preemption) are retried
  and a failing script (exit code 1-127) fails the job at once. MPIJob replicas: ``Never``.
* runPolicy.cleanPodPolicy defaults to ``Running``: finished jobs give their nodes back
  (MPI workers run sshd forever otherwise) while completed pods stay for their logs.
* MPIJob: launcher runs ``mpirun -np <instances x slots>`` over the program; workers get no
  command or args, so the mpi-operator starts sshd in them. runPolicy.backoffLimit defaults
  to 0 because the launcher is a batch Job, whose own default would retry a failed run 6 times.
* runPolicy.ttlSecondsAfterFinished is never sent: the platform enforces it by removing the
  finished job from Karmada itself. Passed to a member, its operator deletes the finished job,
  Karmada re-creates it from its Work object, and it runs again, without end.
* Pods: no service-account token, and the restricted Pod Security Standard (uid 1000, no
  capabilities, no privilege escalation, RuntimeDefault seccomp) — except MPIJob pods, which
  need root for sshd and stay within baseline (see jobs.frameworks.workloads.MPIJOB).
"""

from __future__ import annotations

import copy
import json
import math
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jobs.frameworks import Framework, get_framework, trainjob
from jobs.frameworks.base import render_value

if TYPE_CHECKING:  # only for the annotations: building manifests stays pure
    from jobs.models import TrainingJob

LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "mlplatform"
LABEL_JOB_ID = "mlplatform.io/job-id"
LABEL_FRAMEWORK = "mlplatform.io/framework"

# The operators derive pod, service and hostname names from the job name, and those must be
# DNS-1035 labels of at most 63 characters too. The longest, for instanceCount <= 128, is
# "<name>-worker-127" (the mpi-operator validates exactly that): 63 - len("-worker-127") = 52.
NAME_MAX = 52
SHORT_ID_LEN = 8

VOLUME_NAME = "ml-storage"
VOLUME_MOUNT_PATH = "/opt/ml"
GPU_RESOURCE = "nvidia.com/gpu"
DEFAULT_CLEAN_POD_POLICY = "Running"
# The uid and gid training containers run as (all but MPI's; see pod_security_context).
TRAINING_UID = 1000

# The MPI launcher only runs mpirun; it is small and never gets a GPU (the mpi-operator
# hides GPUs from it anyway). Placement must count it on top of the instances.
LAUNCHER_CPU_CORES = 0.5
LAUNCHER_MEMORY_GIB = 0.5

# What the launcher runs for the built-in images (settings.DEFAULT_IMAGES): the Horovod image
# ships its examples under /horovod/examples; the mpi-operator's DeepSpeed image is built on
# DeepSpeedExamples. A custom algorithm's `command` replaces these.
MPI_DEFAULT_PROGRAMS: dict[str, tuple[str, ...]] = {
    "horovod": ("python", "/horovod/examples/pytorch/pytorch_mnist.py"),
    "deepspeed": (
        "python",
        "/deepspeed/DeepSpeedExamples/training/cifar/cifar10_deepspeed.py",
        "--deepspeed",
    ),
}
# OpenMPI options as in the mpi-operator's examples: root in the container, no core binding
# (the pod's cgroup already confines it), TCP instead of InfiniBand verbs, and -x to forward
# the environment ssh-started ranks would otherwise not see.
MPIRUN_OPTIONS = (
    "--allow-run-as-root",
    "-bind-to", "none",
    "-map-by", "slot",
    "-x", "NCCL_DEBUG=INFO",
    "-x", "LD_LIBRARY_PATH",
    "-x", "PATH",
    "-x", "HYPERPARAMETERS",
    "-x", "MLPLATFORM_JOB_ID",
    "-mca", "pml", "ob1",
    "-mca", "btl", "^openib",
)  # fmt: skip


def kubernetes_name(job_name: str, job_id: uuid.UUID) -> str:
    """A DNS-1035 label of at most ``NAME_MAX`` characters: the job name (cut if needed) and
    the first 8 hex digits of its id. Depends on nothing else, so it is stable for the job's
    life and a retried create meets AlreadyExists."""
    base = re.sub(r"[^a-z0-9-]+", "-", job_name.lower())
    base = re.sub(r"-{2,}", "-", base)
    base = re.sub(r"^[^a-z]+", "", base)  # DNS-1035: must start with a letter
    suffix = uuid.UUID(str(job_id)).hex[:SHORT_ID_LEN]
    base = base[: NAME_MAX - SHORT_ID_LEN - 1].rstrip("-") or "job"
    return f"{base}-{suffix}"


def cpu_quantity(cores: float) -> str:
    """4 -> "4", 0.5 -> "500m", rounded up to whole millicores (Kubernetes' resolution)."""
    millis = max(1, math.ceil(round(cores * 1000, 6)))
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def memory_quantity(gib: float) -> str:
    """8 -> "8Gi", 1.5 -> "1536Mi", rounded up to whole MiB."""
    mib = max(1, math.ceil(round(gib * 1024, 6)))
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


def hyperparameter_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """``--name=value`` per hyperparameter, sorted by name."""
    return [f"--{k}={render_value(hyperparameters[k])}" for k in sorted(hyperparameters)]


def hyperparameters_json(hyperparameters: Mapping[str, Any]) -> str:
    return json.dumps(dict(hyperparameters), sort_keys=True, separators=(",", ":"))


def job_labels(job: TrainingJob) -> dict[str, str]:
    """The user's labels plus ours (ours win; the spec refuses user keys under our prefixes)."""
    return {
        **dict(job.labels or {}),
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_JOB_ID: str(job.id),
        LABEL_FRAMEWORK: job.framework,
    }


def restart_policy(framework: Framework, run_policy: Mapping[str, Any]) -> str:
    if framework.is_mpi:
        # v2beta1 accepts only Never and OnFailure; OnFailure restarts the container in place
        # so the pod never reaches Failed. Launcher retries are its batch Job's backoffLimit.
        return "Never"
    if run_policy.get("backoffLimit", 0) > 0:
        return "ExitCode"
    # OnFailure would restart in place forever on a crashing script (and never let a
    # simulated pod end Failed): with Never a failed pod fails the job.
    return "Never"


def _run_policy(framework: Framework, run_policy: Mapping[str, Any]) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "cleanPodPolicy": run_policy.get("cleanPodPolicy") or DEFAULT_CLEAN_POD_POLICY
    }
    # Not ttlSecondsAfterFinished: see the module docstring.
    for key in ("activeDeadlineSeconds", "backoffLimit"):
        if run_policy.get(key) is not None:
            policy[key] = run_policy[key]
    if framework.is_mpi:
        policy.setdefault("backoffLimit", 0)
    return policy


def _resources(cpu_cores: float, memory_gib: float, gpu_count: int) -> dict[str, Any]:
    # requests = limits: Guaranteed QoS, and what placement counted is what the pod holds.
    cpu, memory = cpu_quantity(cpu_cores), memory_quantity(memory_gib)
    limits: dict[str, str] = {"cpu": cpu, "memory": memory}
    if gpu_count > 0:
        # Extended resources take their request from the limit.
        limits[GPU_RESOURCE] = str(gpu_count)
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": limits}


def _env(job: TrainingJob) -> list[dict[str, str]]:
    return [
        {"name": "MLPLATFORM_JOB_ID", "value": str(job.id)},
        {"name": "HYPERPARAMETERS", "value": hyperparameters_json(job.hyperparameters or {})},
    ]


def _volume(job: TrainingJob, labels: Mapping[str, str]) -> dict[str, Any]:
    # A generic ephemeral volume: a PVC created with the pod and deleted with it, so nothing
    # outlives the job and Karmada has no extra object to propagate.
    return {
        "name": VOLUME_NAME,
        "ephemeral": {
            "volumeClaimTemplate": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": f"{job.volume_size_gb}Gi"}},
                },
            }
        },
    }


def pod_security_context(fw: Framework) -> dict[str, Any]:
    """The pod's securityContext: restricted-compatible, except what ``fw.runs_as_root``
    needs (MPI; see jobs.frameworks.workloads)."""
    context: dict[str, Any] = {"seccompProfile": {"type": "RuntimeDefault"}}
    if not fw.runs_as_root:
        # A fixed non-root uid rather than only runAsNonRoot: most training images declare
        # no USER (or a name, which the kubelet cannot check), and would otherwise be
        # refused at start. fsGroup makes the /opt/ml volume writable for that uid;
        # OnRootMismatch spares a large volume the recursive chown on every start.
        context.update(
            {
                "runAsNonRoot": True,
                "runAsUser": TRAINING_UID,
                "runAsGroup": TRAINING_UID,
                "fsGroup": TRAINING_UID,
                "fsGroupChangePolicy": "OnRootMismatch",
            }
        )
    return context


def container_security_context(fw: Framework) -> dict[str, Any]:
    context: dict[str, Any] = {"allowPrivilegeEscalation": False}
    if not fw.runs_as_root:
        context["capabilities"] = {"drop": ["ALL"]}
    return context


def _pod_template(
    fw: Framework,
    containers: list[dict[str, Any]],
    labels: Mapping[str, str],
    volume: dict | None,
) -> dict[str, Any]:
    # Labels go on the pods too: the testbed's failure label must reach them, and pods can be
    # found by job id without knowing each operator's own labels.
    # Copies: replicas must not share mutable parts, or editing one would edit them all.
    containers = copy.deepcopy(containers)
    for container in containers:
        container["securityContext"] = container_security_context(fw)
    spec: dict[str, Any] = {
        # Training code has no business with the Kubernetes API; a mounted token would hand
        # the namespace's default service account to whatever the image runs.
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(fw),
        "containers": containers,
    }
    if volume is not None:
        spec["volumes"] = [copy.deepcopy(volume)]
    return {"metadata": {"labels": dict(labels)}, "spec": spec}


def _training_container(job: TrainingJob, fw: Framework) -> dict[str, Any]:
    hyperparameters = job.hyperparameters or {}
    args = hyperparameter_args(hyperparameters)
    env = _env(job)
    if fw.name == "lightgbm":
        if job.algorithm_source == "default":
            # The built-in LightGBM image (Kubeflow's lightgbm-dist example) only trains when
            # told --job_type=Train; it then writes LightGBM's machine list from the
            # MASTER_ADDR/WORKER_ADDRS/..._PORT env the training-operator injects.
            args = ["--job_type=Train", *args]
        if job.instance_count == 1:
            # The operator sets WORKER_ADDRS/WORKER_PORT only when there are workers, and the
            # entrypoint reads them unconditionally. With WORLD_SIZE=1 LightGBM does not use
            # the network, so an empty worker list is harmless.
            env += [
                {"name": "WORKER_ADDRS", "value": ""},
                {"name": "WORKER_PORT", "value": str(fw.default_port)},
            ]
    container: dict[str, Any] = {"name": fw.container_name, "image": job.image}
    if job.command:
        container["command"] = list(job.command)
    if args:
        container["args"] = args
    container["env"] = env
    # The training-operator finds the port by name; a missing one leaves the job at Created.
    container["ports"] = [{"name": fw.port_name, "containerPort": fw.default_port}]
    container["resources"] = _resources(job.cpu_cores, job.memory_gib, job.gpu_count)
    if job.volume_size_gb > 0:
        container["volumeMounts"] = [{"name": VOLUME_NAME, "mountPath": VOLUME_MOUNT_PATH}]
    return container


def slots_per_worker(job: TrainingJob) -> int:
    """MPI processes per worker: Horovod's own setting; DeepSpeed runs one per GPU."""
    if job.framework == "horovod":
        return int((job.hyperparameters or {}).get("slots_per_worker", 1))
    return max(1, job.gpu_count)


def launcher_command(job: TrainingJob) -> list[str]:
    program = list(job.command) if job.command else list(MPI_DEFAULT_PROGRAMS[job.framework])
    processes = job.instance_count * slots_per_worker(job)
    return ["mpirun", "-np", str(processes), *MPIRUN_OPTIONS, *program]


def _mpi_replica_specs(
    job: TrainingJob, fw: Framework, labels: Mapping[str, str]
) -> dict[str, Any]:
    policy = restart_policy(fw, job.run_policy or {})
    args = hyperparameter_args(job.hyperparameters or {})
    launcher: dict[str, Any] = {
        "name": "launcher",
        "image": job.image,
        "command": launcher_command(job),
    }
    if args:
        launcher["args"] = args
    launcher["env"] = _env(job)
    launcher["resources"] = _resources(LAUNCHER_CPU_CORES, LAUNCHER_MEMORY_GIB, 0)
    # No command and no args: the mpi-operator then runs sshd in the worker, which is what
    # mpirun connects to. Any args here would replace that.
    worker: dict[str, Any] = {
        "name": fw.container_name,
        "image": job.image,
        "env": _env(job),
        "resources": _resources(job.cpu_cores, job.memory_gib, job.gpu_count),
    }
    volume = _volume(job, labels) if job.volume_size_gb > 0 else None
    if volume is not None:
        worker["volumeMounts"] = [{"name": VOLUME_NAME, "mountPath": VOLUME_MOUNT_PATH}]
    specs: dict[str, Any] = {}
    for replica_type, replicas in fw.replica_layout(job.instance_count):
        if replica_type == "Launcher":
            template = _pod_template(fw, [launcher], labels, None)
        else:
            template = _pod_template(fw, [worker], labels, volume)
        specs[replica_type] = {
            "replicas": replicas,
            "restartPolicy": policy,
            "template": template,
        }
    return specs


def build_workload(job: TrainingJob) -> dict[str, Any]:
    """The Kubeflow training resource: TFJob, PyTorchJob, XGBoostJob, JAXJob or MPIJob, or
    under the v2 backend a TrainJob (see ``build_trainjob``)."""
    if getattr(job, "backend", trainjob.BACKEND_V1) == trainjob.BACKEND_V2:
        return build_trainjob(job)
    fw = get_framework(job.framework)
    labels = job_labels(job)
    name = job.k8s_name or kubernetes_name(job.name, job.id)
    run_policy = job.run_policy or {}
    spec: dict[str, Any] = {}
    if fw.is_mpi:
        spec["slotsPerWorker"] = slots_per_worker(job)
        spec["runPolicy"] = _run_policy(fw, run_policy)
        spec["mpiImplementation"] = "OpenMPI"
        # Without this the launcher may start mpirun before the workers' sshd listens, fail,
        # and with backoffLimit 0 fail the whole job.
        spec["launcherCreationPolicy"] = "WaitForWorkersReady"
        spec[fw.replica_specs_key] = _mpi_replica_specs(job, fw, labels)
    else:
        spec["runPolicy"] = _run_policy(fw, run_policy)
        volume = _volume(job, labels) if job.volume_size_gb > 0 else None
        policy = restart_policy(fw, run_policy)
        container = _training_container(job, fw)
        spec[fw.replica_specs_key] = {
            replica_type: {
                "replicas": replicas,
                "restartPolicy": policy,
                "template": _pod_template(fw, [container], labels, volume),
            }
            for replica_type, replicas in fw.replica_layout(job.instance_count)
        }
    return {
        "apiVersion": fw.api_version,
        "kind": fw.kind,
        "metadata": {"name": name, "namespace": job.namespace, "labels": dict(labels)},
        "spec": spec,
    }


def worker_hosts(name: str, namespace: str, instances: int, port: int) -> str:
    """Every node's stable address under Trainer v2, comma-separated ``host:port``: JobSet
    names node i's pod ``<name>-node-0-<i>`` and its headless Service ``<name>``."""
    return ",".join(
        f"{name}-{trainjob.NODE}-0-{i}.{name}.{namespace}.svc:{port}" for i in range(instances)
    )


def _trainjob_env(job: TrainingJob, fw: Framework, name: str) -> list[dict[str, str]]:
    env = _env(job)
    runtime = trainjob.runtime_for(fw.name)
    if runtime.ours and not runtime.mpi and fw.default_port is not None:
        # Trainer has no TensorFlow or LightGBM plugin to inject TF_CONFIG or a machine
        # list; the platform's runtimes give each pod its index (MLPLATFORM_WORKER_INDEX,
        # from the Job's completion index) and the job gives every pod the node list.
        env.append(
            {
                "name": "MLPLATFORM_WORKER_HOSTS",
                "value": worker_hosts(name, job.namespace, job.instance_count, fw.default_port),
            }
        )
    return env


def _trainjob_pod_patch(
    job: TrainingJob, fw: Framework, labels: Mapping[str, str], *, with_volume: bool
) -> dict[str, Any]:
    """What the platform adds to one replicated job's pods: its labels, the pod security
    settings v1 pods get (not for MPI, whose runtime sets its own user), the /opt/ml volume."""
    container: dict[str, Any] = {"name": trainjob.TRAINER_CONTAINER}
    spec: dict[str, Any] = {}
    if not fw.runs_as_root:
        spec["securityContext"] = pod_security_context(fw)
        container["securityContext"] = container_security_context(fw)
    if with_volume:
        spec["volumes"] = [_volume(job, labels)]
        container["volumeMounts"] = [{"name": VOLUME_NAME, "mountPath": VOLUME_MOUNT_PATH}]
    if len(container) > 1:
        spec["containers"] = [container]
    template: dict[str, Any] = {"metadata": {"labels": dict(labels)}}
    if spec:
        template["spec"] = spec
    return template


def build_trainjob(job: TrainingJob) -> dict[str, Any]:
    """The Kubeflow Trainer v2 TrainJob for any framework: the framework's
    ClusterTrainingRuntime (``jobs.frameworks.trainjob.RUNTIMES``) brings the replicated
    jobs and the framework's environment; the TrainJob brings image, command, arguments,
    environment, node count and per-node resources, and patches the pods with the
    platform's labels, security settings and volume.

    Differences from the v1 kinds, each forced by Trainer v2's API: the run policy's
    backoffLimit and cleanPodPolicy belong to the runtime (only activeDeadlineSeconds is a
    TrainJob field), and a runtime patch cannot switch off the service-account token.
    """
    fw = get_framework(job.framework)
    runtime = trainjob.runtime_for(fw.name)
    labels = job_labels(job)
    name = job.k8s_name or kubernetes_name(job.name, job.id)
    run_policy = job.run_policy or {}
    trainer: dict[str, Any] = {"image": job.image}
    args = hyperparameter_args(job.hyperparameters or {})
    if runtime.mpi:
        # The launcher runs mpirun over every process, as the v1 MPIJob's launcher does.
        trainer["command"] = launcher_command(job)
    elif job.command:
        trainer["command"] = list(job.command)
    if fw.name == "lightgbm" and job.algorithm_source == "default":
        # The built-in LightGBM image trains only when told so (see _training_container).
        args = ["--job_type=Train", *args]
    if args:
        trainer["args"] = args
    trainer["env"] = _trainjob_env(job, fw, name)
    trainer["numNodes"] = job.instance_count
    trainer["resourcesPerNode"] = _resources(job.cpu_cores, job.memory_gib, job.gpu_count)
    if runtime.mpi:
        trainer["numProcPerNode"] = slots_per_worker(job)
    with_volume = job.volume_size_gb > 0
    replicated = [
        {
            "name": trainjob.NODE,
            "template": {
                "spec": {"template": _trainjob_pod_patch(job, fw, labels, with_volume=with_volume)}
            },
        }
    ]
    if runtime.mpi:
        replicated.append(
            {
                "name": trainjob.LAUNCHER,
                "template": {
                    "spec": {
                        "template": _trainjob_pod_patch(
                            job, fw, labels, with_volume=with_volume and runtime.launcher_is_node
                        )
                    }
                },
            }
        )
    spec: dict[str, Any] = {
        "runtimeRef": {
            "apiGroup": trainjob.GROUP,
            "kind": trainjob.RUNTIME_KIND,
            "name": runtime.name,
        },
        "trainer": trainer,
        "runtimePatches": [
            {
                "manager": trainjob.PATCH_MANAGER,
                "trainingRuntimeSpec": {
                    "template": {
                        "metadata": {"labels": dict(labels)},
                        "spec": {"replicatedJobs": replicated},
                    }
                },
            }
        ],
    }
    if run_policy.get("activeDeadlineSeconds") is not None:
        spec["activeDeadlineSeconds"] = run_policy["activeDeadlineSeconds"]
    return {
        "apiVersion": trainjob.API_VERSION,
        "kind": trainjob.KIND,
        "metadata": {"name": name, "namespace": job.namespace, "labels": dict(labels)},
        "spec": spec,
    }


def build_propagation_policy(
    job: TrainingJob, workload: Mapping[str, Any], *, schedule_priority_class: str | None = None
) -> dict[str, Any]:
    """Places the workload whole in exactly one of the candidate clusters.

    ``schedule_priority_class`` also hands the job's priority to Karmada's scheduler (its
    PriorityBasedScheduling feature): a PriorityClass on Karmada that orders its own
    scheduling queue. The platform's queue stays the source of truth; this only keeps
    Karmada from undoing its order between jobs it has already admitted."""
    placement: dict[str, Any] = {}
    candidates = list(job.candidate_clusters or [])
    if len(candidates) > 1:
        # The platform's choice first (its placement strategy ranked the candidates); the
        # scheduler tries the groups in order, so the others take the job only when the
        # first cannot.
        placement["clusterAffinities"] = [
            {"affinityName": "preferred", "clusterNames": candidates[:1]},
            {"affinityName": "fallback", "clusterNames": candidates},
        ]
    elif candidates:
        placement["clusterAffinity"] = {"clusterNames": candidates}
    # One group of one cluster: the whole job lands in a single member. No Divided
    # replicaScheduling, which would make Karmada split replicas and ignore this.
    placement["spreadConstraints"] = [{"spreadByField": "cluster", "minGroups": 1, "maxGroups": 1}]
    # A job stays with its member while that member is unreachable: Karmada's default
    # tolerations last 300 s, after which an eviction would start the job again elsewhere
    # while the first copy may still be running (a job runs once). The platform shows the
    # outage on the job instead.
    placement["clusterTolerations"] = [
        {"key": taint, "operator": "Exists", "effect": "NoExecute"}
        for taint in ("cluster.karmada.io/not-ready", "cluster.karmada.io/unreachable")
    ]
    meta = workload["metadata"]
    spec: dict[str, Any] = {
        "resourceSelectors": [
            {
                "apiVersion": workload["apiVersion"],
                "kind": workload["kind"],
                "name": meta["name"],
            }
        ],
        "placement": placement,
    }
    if schedule_priority_class:
        spec["schedulePriority"] = {
            "priorityClassSource": "KubePriorityClass",
            "priorityClassName": schedule_priority_class,
        }
    return {
        "apiVersion": "policy.karmada.io/v1alpha1",
        "kind": "PropagationPolicy",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": dict(meta["labels"]),
        },
        "spec": spec,
    }


def build_manifests(
    job: TrainingJob, *, schedule_priority_class: str | None = None
) -> list[dict[str, Any]]:
    """[workload CR, PropagationPolicy] for a ``TrainingJob`` (saved or not)."""
    workload = build_workload(job)
    return [
        workload,
        build_propagation_policy(job, workload, schedule_priority_class=schedule_priority_class),
    ]
