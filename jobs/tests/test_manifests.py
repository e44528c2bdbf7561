"""Manifests: golden files per framework, plus the rules behind them. Pure: unsaved jobs, no DB.

Regenerate the golden files after an intended change with
``UPDATE_GOLDEN=1 pytest jobs/tests/test_manifests.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from clusters import karmada
from jobs.frameworks import FRAMEWORKS, get_framework
from jobs.manifests import (
    LAUNCHER_CPU_CORES,
    LAUNCHER_MEMORY_GIB,
    NAME_MAX,
    build_manifests,
    cpu_quantity,
    hyperparameter_args,
    kubernetes_name,
    memory_quantity,
)
from jobs.models import TrainingJob

GOLDEN_DIR = Path(__file__).parent / "golden"
JOB_ID = uuid.UUID("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f")
DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def make_job(framework: str = "pytorch", **fields: Any) -> TrainingJob:
    """An unsaved job as job_create builds it: hyperparameters validated, defaults filled."""
    hyperparameters = fields.pop("hyperparameters", {})
    custom = fields.get("algorithm_source") == "custom"
    if framework == "xgboost":
        hyperparameters = {"num_round": 100, **hyperparameters}
    values: dict[str, Any] = {
        "id": JOB_ID,
        "name": f"{framework}-demo",
        "namespace": "team-a",
        "framework": framework,
        "algorithm_source": "default",
        "algorithm_name": framework,
        "image": f"example.com/{framework}:1.0",
        "command": [],
        "cpu_cores": 2,
        "memory_gib": 4,
        "gpu_count": 0,
        "instance_count": 1,
        "volume_size_gb": 0,
        "target_clusters": [],
        "candidate_clusters": ["member-cluster-1"],
        "run_policy": {},
        "labels": {},
        **fields,
    }
    values["hyperparameters"] = get_framework(framework).validate_hyperparameters(
        hyperparameters, custom=custom
    )
    job = TrainingJob(**values)
    job.k8s_name = kubernetes_name(job.name, job.id)
    return job


def v2(job: TrainingJob) -> TrainingJob:
    job.backend = "v2"
    return job


def single(framework: str) -> TrainingJob:
    return make_job(framework)


def distributed(framework: str) -> TrainingJob:
    """Several instances, GPUs, a volume, a run policy, user labels, two candidates."""
    hyperparameters: dict[str, Any] = {}
    if framework == "horovod":
        hyperparameters = {"slots_per_worker": 2, "fp16_allreduce": True}
    if framework == "deepspeed":
        hyperparameters = {"zero_stage": 2, "bf16": True}
    return make_job(
        framework,
        instance_count=3,
        cpu_cores=7.5,
        memory_gib=30.5,
        gpu_count=2,
        volume_size_gb=50,
        hyperparameters=hyperparameters,
        run_policy={
            "activeDeadlineSeconds": 7200,
            "backoffLimit": 2,
            "ttlSecondsAfterFinished": 600,
            "cleanPodPolicy": "All",
        },
        labels={"team": "vision", "testbed.mlplatform.io/outcome": "fail"},
        candidate_clusters=["member-cluster-1", "member-cluster-2"],
    )


GOLDEN_CASES: dict[str, Any] = {
    **{f"{fw}-single": (lambda fw=fw: single(fw)) for fw in FRAMEWORKS},
    **{f"{fw}-distributed": (lambda fw=fw: distributed(fw)) for fw in FRAMEWORKS},
    "pytorch-custom-command": lambda: make_job(
        "pytorch",
        algorithm_source="custom",
        algorithm_name="resnet",
        image="registry.example.com/team/resnet:2",
        command=["python", "/app/train.py"],
        hyperparameters={"epochs": 2, "dataset": "imagenet"},
        instance_count=2,
        candidate_clusters=[],
    ),
    "horovod-custom-command": lambda: make_job(
        "horovod",
        algorithm_source="custom",
        image="registry.example.com/team/hvd:1",
        command=["python", "/app/train.py"],
        instance_count=2,
        gpu_count=4,
        hyperparameters={"slots_per_worker": 4},
    ),
    "lightgbm-distributed-custom": lambda: make_job(
        "lightgbm",
        algorithm_source="custom",
        image="registry.example.com/team/lgbm:1",
        instance_count=3,
        hyperparameters={"objective": "binary", "job_type": "Train"},
    ),
    # TRAINING_BACKEND=v2: the same jobs as TrainJobs.
    **{f"v2-{fw}-single": (lambda fw=fw: v2(single(fw))) for fw in FRAMEWORKS},
    **{f"v2-{fw}-distributed": (lambda fw=fw: v2(distributed(fw))) for fw in FRAMEWORKS},
    "v2-pytorch-custom-command": lambda: v2(
        make_job(
            "pytorch",
            algorithm_source="custom",
            image="registry.example.com/team/resnet:2",
            command=["python", "/app/train.py"],
            instance_count=2,
        )
    ),
}


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_manifests_match_the_golden_file(case):
    manifests = build_manifests(GOLDEN_CASES[case]())
    text = json.dumps(manifests, indent=2, ensure_ascii=False) + "\n"
    path = GOLDEN_DIR / f"{case}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing {path.name}: run with UPDATE_GOLDEN=1 to create it"
    # Parsed comparison: what counts is the content; lists vs tuples would differ here too.
    assert json.loads(text) == json.loads(path.read_text()), (
        f"{case} differs from {path.name}; if intended, regenerate with UPDATE_GOLDEN=1"
    )


def test_every_golden_file_has_a_case():
    names = {p.stem for p in GOLDEN_DIR.glob("*.json")}
    assert names == set(GOLDEN_CASES)


# --- names -----------------------------------------------------------------------------


def test_kubernetes_name_is_job_name_and_short_id():
    assert kubernetes_name("xgboost-training", JOB_ID) == "xgboost-training-6f1c2d3e"


def test_kubernetes_name_is_stable():
    assert kubernetes_name("demo", JOB_ID) == kubernetes_name("demo", uuid.UUID(str(JOB_ID)))
    assert kubernetes_name("demo", JOB_ID) != kubernetes_name("demo", uuid.uuid4())


@pytest.mark.parametrize(
    "job_name",
    [
        "a",
        "a" * 50,
        "a" * 200,
        "xgboost-training",
        "My_Job.Name",
        "9lives",
        "---",
        "",
        "a--b-",
        "ünïcode-job",
    ],
)
def test_kubernetes_name_is_a_short_dns1035_label(job_name):
    name = kubernetes_name(job_name, uuid.uuid4())
    assert DNS1035.match(name), name
    assert len(name) <= NAME_MAX
    # The longest name an operator derives from it still fits a DNS label.
    assert len(f"{name}-worker-127") <= 63
    assert len(f"{name}-launcher") <= 63


def test_the_longest_job_name_keeps_its_whole_suffix():
    name = kubernetes_name("a" * 50, JOB_ID)
    assert name.endswith("-6f1c2d3e")
    assert len(name) == NAME_MAX


# --- rendering -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cores", "quantity"),
    [
        (4, "4"),
        (4.0, "4"),
        (0.5, "500m"),
        (1.25, "1250m"),
        (0.1, "100m"),
        (7.5, "7500m"),
        (0.0001, "1m"),
        (0.0015, "2m"),
        (256, "256"),
    ],
)
def test_cpu_quantity(cores, quantity):
    assert cpu_quantity(cores) == quantity


@pytest.mark.parametrize(
    ("gib", "quantity"),
    [
        (8, "8Gi"),
        (8.0, "8Gi"),
        (1.5, "1536Mi"),
        (0.5, "512Mi"),
        (0.3, "308Mi"),
        (30.5, "31232Mi"),
        (2048, "2048Gi"),
        (0.0001, "1Mi"),
    ],
)
def test_memory_quantity(gib, quantity):
    assert memory_quantity(gib) == quantity


def test_hyperparameter_args_are_sorted_and_typed():
    args = hyperparameter_args(
        {"lr": 0.001, "epochs": 3, "amp": False, "name": "x y", "tiny": 1e-05, "one": 1.0}
    )
    assert args == [
        "--amp=false",
        "--epochs=3",
        "--lr=0.001",
        "--name=x y",
        "--one=1.0",
        "--tiny=1e-05",
    ]


def _workload(job: TrainingJob) -> dict:
    return build_manifests(job)[0]


def _replicas(job: TrainingJob) -> dict:
    fw = get_framework(job.framework)
    return _workload(job)["spec"][fw.replica_specs_key]


def _container(job: TrainingJob, replica: str | None = None) -> dict:
    specs = _replicas(job)
    spec = specs[replica] if replica else next(iter(specs.values()))
    (container,) = spec["template"]["spec"]["containers"]
    return container


def _env(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"]}


def test_hyperparameters_reach_the_container_as_args_and_json():
    job = make_job("pytorch", hyperparameters={"epochs": 3, "amp": True})
    container = _container(job)
    assert "--epochs=3" in container["args"] and "--amp=true" in container["args"]
    env = _env(container)
    assert json.loads(env["HYPERPARAMETERS"]) == job.hyperparameters
    assert env["HYPERPARAMETERS"] == json.dumps(
        job.hyperparameters, sort_keys=True, separators=(",", ":")
    )
    assert env["MLPLATFORM_JOB_ID"] == str(JOB_ID)


def test_manifests_do_not_depend_on_hyperparameter_order():
    a = make_job("xgboost", hyperparameters={"eta": 0.1, "max_depth": 3})
    b = make_job("xgboost", hyperparameters={"max_depth": 3, "eta": 0.1})
    b.hyperparameters = dict(reversed(list(b.hyperparameters.items())))
    assert json.dumps(build_manifests(a)) == json.dumps(build_manifests(b))


def test_resources_are_requests_equal_to_limits_and_gpu_only_as_limit():
    container = _container(make_job("pytorch", cpu_cores=0.5, memory_gib=1.5, gpu_count=2))
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1536Mi"},
        "limits": {"cpu": "500m", "memory": "1536Mi", "nvidia.com/gpu": "2"},
    }


def test_no_gpu_resource_without_gpus():
    assert "nvidia.com/gpu" not in _container(make_job("pytorch"))["resources"]["limits"]


def test_volume_is_a_generic_ephemeral_volume_at_opt_ml():
    job = make_job("tensorflow", volume_size_gb=20)
    for spec in _replicas(job).values():
        pod = spec["template"]["spec"]
        (volume,) = pod["volumes"]
        claim = volume["ephemeral"]["volumeClaimTemplate"]["spec"]
        assert claim["accessModes"] == ["ReadWriteOnce"]
        assert claim["resources"]["requests"]["storage"] == "20Gi"
        (mount,) = pod["containers"][0]["volumeMounts"]
        assert mount == {"name": volume["name"], "mountPath": "/opt/ml"}


def test_no_volume_when_size_is_zero():
    pod = next(iter(_replicas(make_job("tensorflow")).values()))["template"]["spec"]
    assert "volumes" not in pod
    assert "volumeMounts" not in pod["containers"][0]


@pytest.mark.parametrize("framework", [f for f in FRAMEWORKS if not get_framework(f).is_mpi])
def test_training_operator_kinds_name_container_and_port_as_the_operator_expects(framework):
    fw = get_framework(framework)
    job = make_job(framework, instance_count=3)
    for spec in _replicas(job).values():
        (container,) = spec["template"]["spec"]["containers"]
        assert container["name"] == fw.container_name
        assert container["ports"] == [{"name": fw.port_name, "containerPort": fw.default_port}]


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
def test_replica_specs_follow_the_layout(framework):
    job = make_job(framework, instance_count=4)
    layout = get_framework(framework).replica_layout(4)
    assert [(k, v["replicas"]) for k, v in _replicas(job).items()] == layout


@pytest.mark.parametrize(
    ("framework", "run_policy", "expected"),
    [
        ("pytorch", {}, "Never"),
        ("pytorch", {"backoffLimit": 0}, "Never"),
        ("pytorch", {"backoffLimit": 3}, "ExitCode"),
        ("xgboost", {"backoffLimit": 1}, "ExitCode"),
        ("horovod", {}, "Never"),
        ("deepspeed", {"backoffLimit": 3}, "Never"),
    ],
)
def test_restart_policy(framework, run_policy, expected):
    job = make_job(framework, instance_count=2, run_policy=run_policy)
    assert {spec["restartPolicy"] for spec in _replicas(job).values()} == {expected}


def test_run_policy_is_passed_with_a_clean_pod_policy_default():
    job = make_job("jax", run_policy={"activeDeadlineSeconds": 60})
    assert _workload(job)["spec"]["runPolicy"] == {
        "cleanPodPolicy": "Running",
        "activeDeadlineSeconds": 60,
    }


def test_mpi_backoff_limit_defaults_to_zero():
    assert _workload(make_job("horovod"))["spec"]["runPolicy"] == {
        "cleanPodPolicy": "Running",
        "backoffLimit": 0,
    }
    job = make_job("horovod", run_policy={"backoffLimit": 2})
    assert _workload(job)["spec"]["runPolicy"]["backoffLimit"] == 2


def test_labels_are_on_the_workload_its_pods_and_the_policy():
    job = make_job("xgboost", instance_count=2, labels={"testbed.mlplatform.io/outcome": "fail"})
    expected = {
        "testbed.mlplatform.io/outcome": "fail",
        "app.kubernetes.io/managed-by": "mlplatform",
        "mlplatform.io/job-id": str(JOB_ID),
        "mlplatform.io/framework": "xgboost",
    }
    workload, policy = build_manifests(job)
    assert workload["metadata"]["labels"] == expected
    assert policy["metadata"]["labels"] == expected
    for spec in workload["spec"]["xgbReplicaSpecs"].values():
        assert spec["template"]["metadata"]["labels"] == expected


def test_our_labels_win_over_user_labels():
    job = make_job("jax", labels={"mlplatform.io/job-id": "forged"})
    assert _workload(job)["metadata"]["labels"]["mlplatform.io/job-id"] == str(JOB_ID)


def test_workload_metadata_uses_the_kubernetes_name():
    workload = _workload(make_job("jax"))
    assert workload["metadata"]["name"] == "jax-demo-6f1c2d3e"
    assert workload["metadata"]["namespace"] == "team-a"


def test_custom_command_replaces_the_entrypoint():
    job = make_job("pytorch", algorithm_source="custom", command=["python", "train.py"])
    assert _container(job)["command"] == ["python", "train.py"]


def test_default_source_keeps_the_image_entrypoint():
    assert "command" not in _container(make_job("pytorch"))


# --- MPI ---------------------------------------------------------------------------------


def test_mpi_workers_have_no_command_or_args_so_sshd_runs():
    job = make_job("horovod", instance_count=2, hyperparameters={"epochs": 2})
    worker = _container(job, "Worker")
    assert "command" not in worker and "args" not in worker


def test_horovod_launcher_runs_mpirun_over_every_slot():
    job = make_job(
        "horovod", instance_count=3, gpu_count=2, hyperparameters={"slots_per_worker": 2}
    )
    workload = _workload(job)
    assert workload["spec"]["slotsPerWorker"] == 2
    assert workload["spec"]["mpiImplementation"] == "OpenMPI"
    launcher = _container(job, "Launcher")
    assert launcher["command"][:3] == ["mpirun", "-np", "6"]
    assert launcher["command"][-2:] == ["python", "/horovod/examples/pytorch/pytorch_mnist.py"]
    assert "--slots_per_worker=2" in launcher["args"]


def test_deepspeed_runs_one_process_per_gpu():
    job = make_job("deepspeed", instance_count=2, gpu_count=4)
    assert _workload(job)["spec"]["slotsPerWorker"] == 4
    assert _container(job, "Launcher")["command"][:3] == ["mpirun", "-np", "8"]


def test_deepspeed_without_gpus_runs_one_process_per_worker():
    job = make_job("deepspeed", instance_count=2)
    assert _workload(job)["spec"]["slotsPerWorker"] == 1
    assert _container(job, "Launcher")["command"][:3] == ["mpirun", "-np", "2"]


def test_mpi_custom_command_is_the_program_mpirun_starts():
    job = make_job("horovod", algorithm_source="custom", command=["python", "/app/train.py"])
    command = _container(job, "Launcher")["command"]
    assert command[0] == "mpirun"
    assert command[-2:] == ["python", "/app/train.py"]


def test_mpi_launcher_is_small_and_gpu_free():
    job = make_job("deepspeed", gpu_count=8, volume_size_gb=10)
    launcher = _container(job, "Launcher")
    assert launcher["resources"]["limits"] == {
        "cpu": cpu_quantity(LAUNCHER_CPU_CORES),
        "memory": memory_quantity(LAUNCHER_MEMORY_GIB),
    }
    assert "volumeMounts" not in launcher
    assert "volumes" not in _replicas(job)["Launcher"]["template"]["spec"]
    assert _container(job, "Worker")["resources"]["limits"]["nvidia.com/gpu"] == "8"


# --- LightGBM ------------------------------------------------------------------------------


def test_lightgbm_runs_as_an_xgboost_job_with_the_xgboost_container():
    workload = _workload(make_job("lightgbm", instance_count=2))
    assert workload["kind"] == "XGBoostJob"
    (container,) = workload["spec"]["xgbReplicaSpecs"]["Master"]["template"]["spec"]["containers"]
    assert container["name"] == "xgboost"
    assert container["ports"][0]["name"] == "xgboostjob-port"


def test_lightgbm_built_in_entrypoint_is_told_to_train():
    assert _container(make_job("lightgbm", instance_count=2))["args"][0] == "--job_type=Train"
    custom = make_job("lightgbm", algorithm_source="custom", instance_count=2)
    assert "--job_type=Train" not in _container(custom)["args"]


def test_lightgbm_single_instance_gets_an_empty_worker_list():
    env = _env(_container(make_job("lightgbm")))
    assert env["WORKER_ADDRS"] == "" and env["WORKER_PORT"] == "9999"
    # With workers the training-operator sets them; a second definition would only conflict.
    env = _env(_container(make_job("lightgbm", instance_count=2), "Worker"))
    assert "WORKER_ADDRS" not in env and "WORKER_PORT" not in env


# --- PropagationPolicy ------------------------------------------------------------------------


def test_policy_selects_the_workload_and_places_it_in_one_candidate():
    job = make_job("pytorch", candidate_clusters=["member-cluster-2", "member-cluster-1"])
    workload, policy = build_manifests(job)
    assert policy["apiVersion"] == "policy.karmada.io/v1alpha1"
    assert policy["kind"] == "PropagationPolicy"
    assert policy["metadata"]["name"] == workload["metadata"]["name"]
    assert policy["metadata"]["namespace"] == workload["metadata"]["namespace"]
    assert policy["spec"]["resourceSelectors"] == [
        {
            "apiVersion": "kubeflow.org/v1",
            "kind": "PyTorchJob",
            "name": workload["metadata"]["name"],
        }
    ]
    placement = policy["spec"]["placement"]
    # The first candidate is the platform's choice; the others are Karmada's fallback.
    assert placement["clusterAffinities"] == [
        {"affinityName": "preferred", "clusterNames": ["member-cluster-2"]},
        {"affinityName": "fallback", "clusterNames": ["member-cluster-2", "member-cluster-1"]},
    ]
    assert "clusterAffinity" not in placement
    assert placement["spreadConstraints"] == [
        {"spreadByField": "cluster", "minGroups": 1, "maxGroups": 1}
    ]
    # Divided scheduling would make Karmada ignore the spread constraint.
    assert "replicaScheduling" not in placement


def test_policy_with_one_candidate_names_just_it():
    _, policy = build_manifests(make_job("pytorch", candidate_clusters=["member-cluster-1"]))
    placement = policy["spec"]["placement"]
    assert placement["clusterAffinity"] == {"clusterNames": ["member-cluster-1"]}
    assert "clusterAffinities" not in placement


def test_policy_tolerates_an_unreachable_member_so_the_job_is_not_started_twice():
    _, policy = build_manifests(make_job("pytorch", candidate_clusters=["member-cluster-1"]))
    tolerated = {t["key"] for t in policy["spec"]["placement"]["clusterTolerations"]}
    assert tolerated == {"cluster.karmada.io/not-ready", "cluster.karmada.io/unreachable"}
    assert all(
        "tolerationSeconds" not in t for t in policy["spec"]["placement"]["clusterTolerations"]
    )


def test_the_ttl_is_never_sent_to_karmada():
    job = make_job("xgboost", run_policy={"ttlSecondsAfterFinished": 30, "backoffLimit": 1})
    workload, _ = build_manifests(job)
    assert workload["spec"]["runPolicy"] == {"cleanPodPolicy": "Running", "backoffLimit": 1}


def test_policy_without_candidates_has_no_cluster_affinity():
    _, policy = build_manifests(make_job("pytorch", candidate_clusters=[]))
    assert "clusterAffinity" not in policy["spec"]["placement"]


def test_build_manifests_is_pure_and_repeatable():
    job = distributed("deepspeed")
    assert build_manifests(job) == build_manifests(job)
    first = build_manifests(job)
    first[0]["metadata"]["labels"]["x"] = "y"
    assert "x" not in build_manifests(job)[0]["metadata"]["labels"]
    assert "x" not in job.labels


# --- pod security ------------------------------------------------------------------------

# What the restricted Pod Security Standard checks on a pod spec (Kubernetes' pod-security
# admission, "restricted" v1.25+), and what baseline forbids on top of the defaults.
BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip


def _pod_specs(job: TrainingJob) -> list[dict]:
    return [replica["template"]["spec"] for replica in _replicas(job).values()]


def _baseline_problems(spec: dict) -> list[str]:
    problems = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            problems.append(key)
    if any("hostPath" in v for v in spec.get("volumes", [])):
        problems.append("hostPath")
    contexts = [spec.get("securityContext", {})] + [
        c.get("securityContext", {}) for c in spec["containers"]
    ]
    for ctx in contexts:
        if ctx.get("privileged"):
            problems.append("privileged")
        if (ctx.get("seccompProfile") or {}).get("type") == "Unconfined":
            problems.append("seccomp Unconfined")
        added = set((ctx.get("capabilities") or {}).get("add", []))
        if added - BASELINE_CAPABILITIES:
            problems.append(f"capabilities {sorted(added - BASELINE_CAPABILITIES)}")
    for c in spec["containers"]:
        if any(p.get("hostPort") for p in c.get("ports", [])):
            problems.append("hostPort")
    return problems


def _restricted_problems(spec: dict) -> list[str]:
    problems = _baseline_problems(spec)
    pod = spec.get("securityContext", {})
    if (pod.get("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
        problems.append("seccompProfile")
    for c in spec["containers"]:
        ctx = c.get("securityContext", {})
        if not (ctx.get("runAsNonRoot", pod.get("runAsNonRoot"))):
            problems.append(f"{c['name']}: runAsNonRoot")
        if ctx.get("runAsUser", pod.get("runAsUser")) == 0:
            problems.append(f"{c['name']}: runAsUser 0")
        if ctx.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{c['name']}: allowPrivilegeEscalation")
        caps = ctx.get("capabilities") or {}
        if "ALL" not in caps.get("drop", []):
            problems.append(f"{c['name']}: capabilities.drop ALL")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{c['name']}: capabilities.add")
    if any(
        set(v) - {"name", "ephemeral", "configMap", "secret", "emptyDir", "projected"}
        for v in spec.get("volumes", [])
    ):
        problems.append("volume type")
    return problems


# The pod-level checks read the v1 kinds' replica specs; TrainJobs are checked below.
V1_CASES = sorted(c for c in GOLDEN_CASES if not c.startswith("v2-"))


@pytest.mark.parametrize("case", V1_CASES)
def test_no_pod_gets_a_service_account_token(case):
    for spec in _pod_specs(GOLDEN_CASES[case]()):
        assert spec["automountServiceAccountToken"] is False


@pytest.mark.parametrize("case", V1_CASES)
def test_pods_meet_restricted_or_for_mpi_baseline(case):
    job = GOLDEN_CASES[case]()
    fw = get_framework(job.framework)
    for spec in _pod_specs(job):
        if fw.is_mpi:
            assert _baseline_problems(spec) == []
            # Root for sshd, but nothing more than the runtime's defaults.
            assert "runAsNonRoot" not in spec["securityContext"]
            for c in spec["containers"]:
                assert c["securityContext"] == {"allowPrivilegeEscalation": False}
        else:
            assert _restricted_problems(spec) == []
            assert spec["securityContext"]["runAsUser"] == 1000
            assert spec["securityContext"]["fsGroup"] == 1000


def test_only_the_mpi_kind_runs_as_root():
    assert {f for f, fw in FRAMEWORKS.items() if fw.runs_as_root} == {"horovod", "deepspeed"}


def test_the_restricted_check_catches_a_root_pod():
    """The checker above is not vacuous."""
    spec = _pod_specs(single("horovod"))[0]
    assert "launcher: runAsNonRoot" in _restricted_problems(spec)


def test_the_policy_carries_the_priority_class_only_when_asked():
    from jobs.manifests import build_manifests
    from jobs.tests.factories import TrainingJobFactory

    job = TrainingJobFactory.build(priority="high")
    assert "schedulePriority" not in build_manifests(job)[1]["spec"]
    policy = build_manifests(job, schedule_priority_class="mlplatform-high")[1]
    assert policy["spec"]["schedulePriority"] == {
        "priorityClassSource": "KubePriorityClass",
        "priorityClassName": "mlplatform-high",
    }


# --- TRAINING_BACKEND=v2: TrainJob ----------------------------------------------------------


def _rjob_patches(trainjob: dict) -> dict[str, dict]:
    patch = trainjob["spec"]["runtimePatches"][0]
    assert patch["manager"] == "mlplatform.io/platform"
    rjobs = patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
    return {r["name"]: r["template"]["spec"]["template"] for r in rjobs}


@pytest.mark.parametrize(
    ("framework", "runtime"),
    [
        ("pytorch", "torch-distributed"),
        ("deepspeed", "deepspeed-distributed"),
        ("jax", "jax-distributed"),
        ("xgboost", "xgboost-distributed"),
        ("horovod", "mlplatform-horovod"),
        ("tensorflow", "mlplatform-tensorflow"),
        ("lightgbm", "mlplatform-lightgbm"),
    ],
)
def test_v2_every_framework_is_a_trainjob_on_its_runtime(framework, runtime):
    workload, policy = build_manifests(v2(distributed(framework)))
    assert (workload["apiVersion"], workload["kind"]) == (
        "trainer.kubeflow.org/v1alpha1",
        "TrainJob",
    )
    assert workload["spec"]["runtimeRef"] == {
        "apiGroup": "trainer.kubeflow.org",
        "kind": "ClusterTrainingRuntime",
        "name": runtime,
    }
    assert policy["spec"]["resourceSelectors"] == [
        {
            "apiVersion": "trainer.kubeflow.org/v1alpha1",
            "kind": "TrainJob",
            "name": workload["metadata"]["name"],
        }
    ]


def test_v2_trainer_carries_image_nodes_resources_and_hyperparameters():
    job = v2(distributed("pytorch"))
    trainer = build_manifests(job)[0]["spec"]["trainer"]
    assert trainer["image"] == job.image
    assert trainer["numNodes"] == 3
    assert trainer["resourcesPerNode"] == {
        "requests": {"cpu": "7500m", "memory": "31232Mi"},
        "limits": {"cpu": "7500m", "memory": "31232Mi", "nvidia.com/gpu": "2"},
    }
    assert trainer["args"] == hyperparameter_args(job.hyperparameters)
    env = {e["name"]: e["value"] for e in trainer["env"]}
    assert env["MLPLATFORM_JOB_ID"] == str(JOB_ID)
    assert json.loads(env["HYPERPARAMETERS"]) == job.hyperparameters
    assert "command" not in trainer  # the built-in image keeps its entrypoint


def test_v2_labels_security_and_volume_reach_the_pods():
    job = v2(distributed("tensorflow"))
    workload = build_manifests(job)[0]
    pods = _rjob_patches(workload)
    assert list(pods) == ["node"]
    node = pods["node"]
    assert node["metadata"]["labels"]["testbed.mlplatform.io/outcome"] == "fail"
    assert node["metadata"]["labels"]["mlplatform.io/job-id"] == str(JOB_ID)
    assert node["spec"]["securityContext"]["runAsUser"] == 1000
    (container,) = node["spec"]["containers"]
    assert container["name"] == "node"
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["volumeMounts"] == [{"name": "ml-storage", "mountPath": "/opt/ml"}]
    assert node["spec"]["volumes"][0]["ephemeral"]["volumeClaimTemplate"]["spec"]["resources"] == {
        "requests": {"storage": "50Gi"}
    }


def test_v2_run_policy_passes_only_the_deadline():
    spec = build_manifests(v2(distributed("jax")))[0]["spec"]
    assert spec["activeDeadlineSeconds"] == 7200
    assert "runPolicy" not in spec and "ttlSecondsAfterFinished" not in json.dumps(spec)


def test_v2_mpi_launcher_runs_mpirun_and_nodes_keep_the_runtime_user():
    job = v2(distributed("horovod"))
    workload = build_manifests(job)[0]
    trainer = workload["spec"]["trainer"]
    assert trainer["command"][:3] == ["mpirun", "-np", "6"]
    assert trainer["numProcPerNode"] == 2
    pods = _rjob_patches(workload)
    assert set(pods) == {"node", "launcher"}
    # Root for sshd, as the v1 MPIJob: no user or capability settings patched in.
    assert "securityContext" not in json.dumps(pods)
    assert "volumes" in pods["node"]["spec"] and "spec" not in pods["launcher"]


def test_v2_tensorflow_and_lightgbm_get_the_node_list():
    job = v2(distributed("lightgbm"))
    env = {e["name"]: e["value"] for e in build_manifests(job)[0]["spec"]["trainer"]["env"]}
    name = job.k8s_name
    assert env["MLPLATFORM_WORKER_HOSTS"] == ",".join(
        f"{name}-node-0-{i}.{name}.team-a.svc:9999" for i in range(3)
    )


def test_v2_name_leaves_room_for_jobset_names():
    """JobSet refuses names whose Jobs (<name>-<replicated job>-<index>) exceed 63."""
    job = v2(make_job("horovod", name="x" * 80))
    name = build_manifests(job)[0]["metadata"]["name"]
    assert len(f"{name}-launcher-0") <= 63


def test_a_workload_is_created_claimed_by_its_policy():
    policy = {
        "metadata": {
            "name": "demo-xgboostjob",
            "namespace": "team-a",
            "labels": {karmada.POLICY_PERMANENT_ID_LABEL: "0b6c-id"},
        }
    }
    workload = {"kind": "XGBoostJob", "metadata": {"name": "demo", "labels": {"app": "x"}}}
    claimed = karmada.claimed_by(workload, policy)["metadata"]
    assert claimed["labels"] == {"app": "x", karmada.POLICY_PERMANENT_ID_LABEL: "0b6c-id"}
    assert claimed["annotations"] == {
        karmada.POLICY_NAMESPACE_ANNOTATION: "team-a",
        karmada.POLICY_NAME_ANNOTATION: "demo-xgboostjob",
    }
    assert workload["metadata"] == {"name": "demo", "labels": {"app": "x"}}, "input changed"


def test_a_policy_without_a_permanent_id_leaves_the_workload_unclaimed():
    # Karmada before its permanent ids, or a policy read back without labels: the detector
    # claims the template itself, as it always did.
    workload = {"kind": "XGBoostJob", "metadata": {"name": "demo"}}
    assert karmada.claimed_by(workload, {"metadata": {"name": "p"}}) is workload
