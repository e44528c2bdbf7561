"""The testbed carries Kubeflow jobs through Karmada end to end.

Each test creates a PropagationPolicy and a job in Karmada by hand (as the platform
does), then follows it: ResourceBinding scheduled to the chosen member, job in that
member, pods created by the operator and finished by kwok, status aggregated back
into the Karmada template, and deletion propagated to the member.
"""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from testbed.api import FAIL_LABEL, FAIL_VALUE, RUN_DURATION_ANNOTATION, Testbed, ensure_up
from testbed.polling import wait_for

pytestmark = pytest.mark.testbed

KUBEFLOW = "kubeflow.org"
WAIT = 180  # seconds; a loaded 2-core machine can be slow, a healthy run takes ~10s


# Every wait in these tests: an API server briefly refusing counts as "not yet".
POLL: dict[str, Any] = {"timeout": WAIT, "interval": 0.5, "retry_on": (ApiException,)}


@pytest.fixture(scope="module")
def tb() -> Testbed:
    return ensure_up()


@pytest.fixture(scope="module")
def karmada(tb: Testbed) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(tb.karmada_kubeconfig))


@pytest.fixture(scope="module")
def members(tb: Testbed) -> dict[str, client.ApiClient]:
    return {
        m: config.new_client_from_config(config_file=str(tb.member_kubeconfig(m)))
        for m in tb.members
    }


@pytest.fixture(scope="module")
def namespace(karmada: client.ApiClient, members: dict[str, client.ApiClient]):
    """A namespace made in Karmada; Karmada propagates it to every member."""
    name = f"tb-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(karmada)
    core.create_namespace({"metadata": {"name": name}})
    for m, api in members.items():
        wait_for(
            lambda api=api: client.CoreV1Api(api).read_namespace(name),
            message=f"namespace {name} in {m}",
            **POLL,
        )
    yield name
    core.delete_namespace(name)


def policy(name: str, api_version: str, kind: str, cluster: str) -> dict:
    """What the platform sends: the job whole in exactly one of the candidate clusters."""
    return {
        "apiVersion": "policy.karmada.io/v1alpha1",
        "kind": "PropagationPolicy",
        "metadata": {"name": name},
        "spec": {
            "resourceSelectors": [{"apiVersion": api_version, "kind": kind, "name": name}],
            "placement": {
                "clusterAffinity": {"clusterNames": [cluster]},
                "spreadConstraints": [{"spreadByField": "cluster", "minGroups": 1, "maxGroups": 1}],
            },
        },
    }


def pod_template(
    container: str, *, port: tuple[str, int] | None = None, fail: bool = False
) -> dict:
    c: dict[str, Any] = {
        "name": container,
        "image": "registry.invalid/mlplatform/train:latest",
        "resources": {
            "requests": {"cpu": "1", "memory": "1Gi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
    }
    if port:
        c["ports"] = [{"name": port[0], "containerPort": port[1]}]
    meta = {"labels": {FAIL_LABEL: FAIL_VALUE}} if fail else {}
    return {"metadata": meta, "spec": {"containers": [c]}}


def xgboost_job(name: str, *, fail: bool = False, run_duration: str | None = None) -> dict:
    template = pod_template("xgboost", port=("xgboostjob-port", 9999), fail=fail)
    if run_duration:
        template["metadata"]["annotations"] = {RUN_DURATION_ANNOTATION: run_duration}
    return {
        "apiVersion": f"{KUBEFLOW}/v1",
        "kind": "XGBoostJob",
        "metadata": {"name": name},
        "spec": {
            "xgbReplicaSpecs": {
                "Master": {"replicas": 1, "restartPolicy": "Never", "template": template}
            }
        },
    }


def jax_job(name: str) -> dict:
    return {
        "apiVersion": f"{KUBEFLOW}/v1",
        "kind": "JAXJob",
        "metadata": {"name": name},
        "spec": {
            "jaxReplicaSpecs": {
                "Worker": {
                    "replicas": 2,
                    "restartPolicy": "Never",
                    "template": pod_template("jax", port=("jaxjob-port", 6666)),
                }
            }
        },
    }


def pytorch_job(name: str) -> dict:
    return {
        "apiVersion": f"{KUBEFLOW}/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": name},
        "spec": {
            "pytorchReplicaSpecs": {
                "Master": {
                    "replicas": 1,
                    "restartPolicy": "Never",
                    "template": pod_template("pytorch", port=("pytorchjob-port", 23456)),
                },
                "Worker": {
                    "replicas": 1,
                    "restartPolicy": "Never",
                    "template": pod_template("pytorch", port=("pytorchjob-port", 23456)),
                },
            }
        },
    }


def mpi_job(name: str) -> dict:
    return {
        "apiVersion": f"{KUBEFLOW}/v2beta1",
        "kind": "MPIJob",
        "metadata": {"name": name},
        "spec": {
            "slotsPerWorker": 1,
            # Workers run until deleted, as sshd does; the launcher decides the outcome.
            "runPolicy": {"cleanPodPolicy": "Running"},
            "mpiReplicaSpecs": {
                "Launcher": {"replicas": 1, "template": pod_template("launcher")},
                "Worker": {"replicas": 2, "template": pod_template("worker")},
            },
        },
    }


def through_cluster_proxy(karmada: client.ApiClient, cluster: str) -> client.CoreV1Api:
    """The member's core API through Karmada's cluster proxy (how the platform reads logs)."""
    cfg = copy.copy(karmada.configuration)
    cfg.host = f"{cfg.host}/apis/cluster.karmada.io/v1alpha1/clusters/{cluster}/proxy"
    return client.CoreV1Api(client.ApiClient(cfg))


class Job:
    """One job submitted to Karmada, with what a test needs to follow it."""

    def __init__(self, karmada, members, namespace, manifest, cluster):
        self.karmada = client.CustomObjectsApi(karmada)
        self.members = members
        self.ns = namespace
        self.manifest = manifest
        self.cluster = cluster
        self.name = manifest["metadata"]["name"]
        self.kind = manifest["kind"]
        self.group, self.version = manifest["apiVersion"].split("/")
        self.plural = self.kind.lower() + "s"

    def submit(self) -> None:
        self.karmada.create_namespaced_custom_object(
            "policy.karmada.io",
            "v1alpha1",
            self.ns,
            "propagationpolicies",
            policy(self.name, self.manifest["apiVersion"], self.kind, self.cluster),
        )
        self.karmada.create_namespaced_custom_object(
            self.group, self.version, self.ns, self.plural, self.manifest
        )

    def template(self) -> dict:
        return self.karmada.get_namespaced_custom_object(
            self.group, self.version, self.ns, self.plural, self.name
        )

    def binding(self) -> dict:
        return self.karmada.get_namespaced_custom_object(
            "work.karmada.io",
            "v1alpha2",
            self.ns,
            "resourcebindings",
            f"{self.name}-{self.kind.lower()}",
        )

    def in_member(self, member: str) -> dict | None:
        try:
            return client.CustomObjectsApi(self.members[member]).get_namespaced_custom_object(
                self.group, self.version, self.ns, self.plural, self.name
            )
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    def pods(self) -> list:
        return (
            client.CoreV1Api(self.members[self.cluster])
            .list_namespaced_pod(
                self.ns, label_selector=f"training.kubeflow.org/job-name={self.name}"
            )
            .items
        )

    def delete(self) -> None:
        self.karmada.delete_namespaced_custom_object(
            self.group, self.version, self.ns, self.plural, self.name
        )
        self.karmada.delete_namespaced_custom_object(
            "policy.karmada.io", "v1alpha1", self.ns, "propagationpolicies", self.name
        )

    # -- waits ------------------------------------------------------------------

    def wait_scheduled(self) -> dict:
        def scheduled():
            rb = self.binding()
            conds = {c["type"]: c["status"] for c in rb.get("status", {}).get("conditions", [])}
            return rb if conds.get("Scheduled") == "True" and rb["spec"].get("clusters") else None

        rb = wait_for(
            scheduled, message=f"ResourceBinding of {self.kind} {self.name} Scheduled", **POLL
        )
        return rb

    def wait_condition(self, cond_type: str) -> dict:
        def has():
            t = self.template()
            conds = t.get("status", {}).get("conditions", [])
            return (
                t if any(c["type"] == cond_type and c["status"] == "True" for c in conds) else None
            )

        return wait_for(
            has, message=f"{self.kind} {self.name} in Karmada with condition {cond_type}", **POLL
        )

    def wait_gone_from_member(self) -> None:
        wait_for(
            lambda: self.in_member(self.cluster) is None,
            message=f"{self.kind} {self.name} removed from {self.cluster}",
            **POLL,
        )


@pytest.fixture
def submit(karmada, members, namespace):
    def make(manifest: dict, cluster: str) -> Job:
        job = Job(karmada, members, namespace, manifest, cluster)
        job.submit()
        return job

    return make


def test_it_reuses_a_healthy_testbed_quickly(tb):
    start = time.monotonic()
    again = ensure_up()
    assert again.karmada_kubeconfig == tb.karmada_kubeconfig
    assert time.monotonic() - start < 10


def test_it_joins_both_members_with_their_nodes(karmada, members, tb):
    clusters = client.CustomObjectsApi(karmada).list_cluster_custom_object(
        "cluster.karmada.io", "v1alpha1", "clusters"
    )["items"]
    ready = {
        c["metadata"]["name"]
        for c in clusters
        if any(k["type"] == "Ready" and k["status"] == "True" for k in c["status"]["conditions"])
    }
    assert ready == set(tb.members)
    gpu_nodes = client.CoreV1Api(members["member-cluster-1"]).list_node().items
    assert len(gpu_nodes) == 4
    assert all(n.status.allocatable["nvidia.com/gpu"] == "4" for n in gpu_nodes)
    assert all(n.metadata.labels["nvidia.com/gpu.present"] == "true" for n in gpu_nodes)
    cpu_nodes = client.CoreV1Api(members["member-cluster-2"]).list_node().items
    assert len(cpu_nodes) == 4
    assert all("nvidia.com/gpu" not in n.status.allocatable for n in cpu_nodes)
    assert all(n.status.allocatable["cpu"] == "32" for n in cpu_nodes)


def test_xgboost_job_runs_in_the_chosen_member_and_succeeds(submit):
    job = submit(xgboost_job("xgb-ok"), "member-cluster-1")

    rb = job.wait_scheduled()
    assert [c["name"] for c in rb["spec"]["clusters"]] == ["member-cluster-1"]
    wait_for(
        lambda: job.in_member("member-cluster-1"), message="XGBoostJob in member-cluster-1", **POLL
    )
    assert job.in_member("member-cluster-2") is None
    pods = wait_for(job.pods, message="XGBoost master pod", **POLL)
    assert [p.spec.containers[0].name for p in pods] == ["xgboost"]
    env = {e.name for e in pods[0].spec.containers[0].env}
    assert {"MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK"} <= env

    template = job.wait_condition("Succeeded")
    assert template["status"]["replicaStatuses"]["Master"]["succeeded"] == 1
    assert all(p.status.phase == "Succeeded" for p in job.pods())
    log = through_cluster_proxy(job.karmada.api_client, "member-cluster-1").read_namespaced_pod_log(
        pods[0].metadata.name, job.ns
    )
    assert "kwok node" in log
    rb = job.binding()
    assert rb["status"]["aggregatedStatus"][0]["health"] == "Healthy"

    job.delete()
    job.wait_gone_from_member()


def test_a_pod_labelled_to_fail_fails_the_job(submit):
    job = submit(xgboost_job("xgb-fail", fail=True), "member-cluster-2")

    template = job.wait_condition("Failed")
    failed = next(c for c in template["status"]["conditions"] if c["type"] == "Failed")
    assert "member-cluster-2" in failed["message"]
    pod = job.pods()[0]
    assert pod.status.phase == "Failed"
    assert pod.status.container_statuses[0].state.terminated.exit_code == 1
    wait_for(
        lambda: job.binding()["status"]["aggregatedStatus"][0].get("health") == "Unhealthy",
        message="binding health Unhealthy",
        **POLL,
    )
    job.delete()
    job.wait_gone_from_member()


def test_a_long_running_job_shows_running_and_deleting_it_removes_its_pods(submit):
    job = submit(xgboost_job("xgb-long", run_duration="300s"), "member-cluster-1")

    template = job.wait_condition("Running")
    assert not any(c["type"] in ("Succeeded", "Failed") for c in template["status"]["conditions"])
    assert [p.status.phase for p in job.pods()] == ["Running"]

    job.delete()
    job.wait_gone_from_member()
    wait_for(lambda: job.pods() == [], message="pods deleted", **POLL)


def test_jax_job_status_is_aggregated(submit):
    job = submit(jax_job("jax-ok"), "member-cluster-2")

    template = job.wait_condition("Succeeded")
    assert template["status"]["replicaStatuses"]["Worker"]["succeeded"] == 2
    assert len(job.pods()) == 2
    job.delete()
    job.wait_gone_from_member()


def test_pytorch_job_runs_and_succeeds(submit):
    job = submit(pytorch_job("pt-ok"), "member-cluster-2")

    rb = job.wait_scheduled()
    assert [c["name"] for c in rb["spec"]["clusters"]] == ["member-cluster-2"]
    template = job.wait_condition("Succeeded")
    assert template["status"]["replicaStatuses"]["Master"]["succeeded"] == 1
    assert template["status"]["replicaStatuses"]["Worker"]["succeeded"] == 1
    job.delete()
    job.wait_gone_from_member()


def test_mpi_job_launcher_runs_as_a_batch_job_and_succeeds(submit, members, namespace):
    job = submit(mpi_job("mpi-ok"), "member-cluster-1")

    batch = client.BatchV1Api(members["member-cluster-1"])
    wait_for(
        lambda: batch.read_namespaced_job("mpi-ok-launcher", namespace),
        message="launcher Job",
        **POLL,
    )
    template = job.wait_condition("Succeeded")
    assert template["status"]["conditions"][-1]["type"] == "Succeeded"
    launcher = batch.read_namespaced_job("mpi-ok-launcher", namespace)
    assert launcher.status.succeeded == 1
    job.delete()
    job.wait_gone_from_member()
