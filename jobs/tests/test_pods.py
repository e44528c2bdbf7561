"""A job's pods and their logs, in the pages and the API: real jobs on the testbed (submitted
through the API, run by the real worker), outsiders and foreign pod names, an unreachable
Karmada, and the job that has no cluster yet."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.test import Client
from django.urls import reverse

from jobs.models import JobStatus, NamespaceGrant
from jobs.selectors import _pod_view
from jobs.tests.factories import TrainingJobFactory
from mlplatform.testing import delete_jobs_left, token_client
from testbed.kwok import POD_LOG_LINES
from testbed.polling import wait_for

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "job-pods"}
STOP_POLLING = 286


def _login(client: Client, user) -> Client:
    client.force_login(user)
    return client


# --- without a cluster -------------------------------------------------------------------


class TestBeforePlacement:
    """No cluster yet: nothing is asked of Karmada (none is configured in these tests)."""

    @pytest.fixture
    def job(self, alice):
        return TrainingJobFactory(owner=alice, submitted=True)

    def test_it_says_no_pods_yet(self, client, alice, job):
        c = _login(client, alice)
        fragment = c.get(reverse("jobs:pods", args=[job.pk]), **HTMX)
        assert fragment.status_code == 200
        assert "No pods yet" in fragment.content.decode()
        page = c.get(reverse("jobs:pods", args=[job.pk]))
        assert page.status_code == 200
        assert "<html" in page.content.decode() and "No pods yet" in page.content.decode()

    def test_the_api_answers_an_empty_list(self, api_alice, job):
        response = api_alice.get(f"/api/v1/jobs/{job.pk}/pods")
        assert response.status_code == 200
        assert response.json() == {"cluster": "", "pods": [], "archivedLogs": []}

    def test_a_log_of_a_job_without_pods_is_404(self, client, alice, api_alice, job):
        url = reverse("jobs:pod-log", args=[job.pk, "anything-0"])
        assert _login(client, alice).get(url).status_code == 404
        response = api_alice.get(f"/api/v1/jobs/{job.pk}/pods/anything-0/log")
        assert response.status_code == 404
        assert response.json()["error"]["message"] == "Pod not found for this job."

    def test_the_detail_page_loads_pods_lazily_while_the_job_can_change(self, client, alice, job):
        body = _login(client, alice).get(reverse("jobs:detail", args=[job.pk])).content.decode()
        pods_url = reverse("jobs:pods", args=[job.pk])
        assert f'hx-get="{pods_url}" hx-trigger="load, every 5s"' in body
        assert f'href="{pods_url}"' in body  # works without JavaScript

    def test_a_final_job_loads_once_and_stops_polling(self, client, alice):
        job = TrainingJobFactory(owner=alice, deleted=True)
        c = _login(client, alice)
        body = c.get(reverse("jobs:detail", args=[job.pk])).content.decode()
        assert 'hx-trigger="load"' in body
        fragment = c.get(reverse("jobs:pods", args=[job.pk]), **HTMX)
        assert fragment.status_code == STOP_POLLING

    def test_it_rejects_outsider(self, client, charlie, api_charlie, job):
        c = _login(client, charlie)
        assert c.get(reverse("jobs:pods", args=[job.pk])).status_code == 404
        assert c.get(reverse("jobs:pods", args=[job.pk]), **HTMX).status_code == 404
        assert c.get(reverse("jobs:pod-log", args=[job.pk, "x"])).status_code == 404
        assert api_charlie.get(f"/api/v1/jobs/{job.pk}/pods").status_code == 404
        assert api_charlie.get(f"/api/v1/jobs/{job.pk}/pods/x/log").status_code == 404


# --- reading a pod ----------------------------------------------------------------------


def test_a_pending_pod_says_why_it_is_not_scheduled():
    # The shape the kube-scheduler leaves on a pod that fits no node.
    pod = _pod_view(
        {
            "metadata": {
                "name": "big-master-0",
                "labels": {
                    "training.kubeflow.org/replica-type": "master",
                    "training.kubeflow.org/replica-index": "0",
                },
            },
            "spec": {"containers": [{"name": "pytorch"}]},
            "status": {
                "phase": "Pending",
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": "0/4 nodes are available: 4 Insufficient nvidia.com/gpu.",
                    }
                ],
            },
        }
    )
    assert (pod.phase, pod.replica_type, pod.replica_index) == ("Pending", "master", 0)
    assert pod.waiting_reason == "Unschedulable"
    assert "Insufficient nvidia.com/gpu" in pod.waiting_message
    assert (pod.ready, pod.node, pod.started_at, pod.exit_code) == (False, "", None, None)


def test_a_restarted_pod_shows_why_it_last_ended():
    pod = _pod_view(
        {
            "metadata": {
                "name": "p-worker-1",
                "annotations": {"kubectl.kubernetes.io/default-container": "pytorch"},
            },
            "spec": {"containers": [{"name": "sidecar"}, {"name": "pytorch"}]},
            "status": {
                "phase": "Running",
                "containerStatuses": [
                    {"name": "sidecar", "restartCount": 0, "state": {"running": {}}},
                    {
                        "name": "pytorch",
                        "restartCount": 2,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
                    },
                ],
            },
        }
    )
    assert pod.container == "pytorch"
    assert (pod.restarts, pod.exit_code, pod.exit_reason) == (2, 137, "OOMKilled")
    assert pod.waiting_reason == "CrashLoopBackOff"


# --- on the testbed ---------------------------------------------------------------------


@pytest.fixture
def outsider(transactional_db, django_user_model):
    user = django_user_model.objects.create_user(username="charlie", password="charlie-pass-1")
    NamespaceGrant.objects.create(user=user, namespace="team-c")
    return user


@pytest.fixture
def api(engineer, celery_stack, karmada):
    """The engineer's API client; the jobs it leaves behind are deleted through the API, so
    the shared testbed does not fill up."""
    client = token_client(engineer)
    yield client
    delete_jobs_left(lambda _job: client)


def _body(name: str, framework: str, cluster: str) -> dict:
    return {
        "jobName": name,
        "namespace": "default",
        "algorithm": {"source": "default", "algorithmName": framework},
        "resources": {
            "instanceResources": {"cpuCores": 1, "memoryGiB": 2, "gpuCount": 0},
            "instanceCount": 2,
            "volumeSizeGB": 0,
        },
        "hyperparameters": {framework: {}},
        "targetClusters": [cluster],
    }


def _submit(api, body: dict) -> str:
    response = api.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _pods(api, job_id: str) -> dict:
    response = api.get(f"/api/v1/jobs/{job_id}/pods")
    assert response.status_code == 200, response.content
    return response.json()


def _types(pods: list[dict]) -> list[str]:
    return sorted(p["replicaType"] for p in pods)


@pytest.mark.e2e
@pytest.mark.testbed
def test_it_lists_a_jobs_pods_and_serves_their_logs(api, engineer, outsider):
    pytorch_id = _submit(api, _body("pods-pytorch", "pytorch", "member-cluster-2"))
    mpi_id = _submit(api, _body("pods-horovod", "horovod", "member-cluster-2"))

    page = _login(Client(), engineer)

    def mpi_running() -> tuple[dict, str] | None:
        pods = _pods(api, mpi_id)
        if _types(pods["pods"]) != ["launcher", "worker", "worker"] or any(
            p["phase"] != "Running" for p in pods["pods"] if p["replicaType"] == "worker"
        ):
            return None
        fragment = page.get(reverse("jobs:pods", args=[mpi_id]), **HTMX)
        assert fragment.status_code == 200  # running: polling goes on
        body = fragment.content.decode()
        # Both read within the workers' lifetime: the page must show the same pods.
        return (pods, body) if all(p["name"] in body for p in pods["pods"]) else None

    # MPI workers run only while the launcher does (cleanPodPolicy Running), so look at the
    # MPI job while it runs.
    mpi, mpi_body = wait_for(
        mpi_running, timeout=90, message="the MPI job's launcher and two running workers"
    )
    assert ">launcher<" in mpi_body and ">worker <" in mpi_body
    assert mpi["cluster"] == "member-cluster-2"
    worker = next(p for p in mpi["pods"] if p["replicaType"] == "worker")
    assert worker["ready"] is True and worker["node"] and worker["startedAt"]
    assert worker["replicaIndex"] in (0, 1)

    # The same goes for a PyTorch worker still running when the master succeeds.
    running = wait_for(
        lambda: _types((p := _pods(api, pytorch_id))["pods"]) == ["master", "worker"] and p,
        timeout=90,
        message="the PyTorch job's master and worker",
    )
    assert running["pods"][0]["replicaType"] == "master"  # coordinators first
    assert {p["container"] for p in running["pods"]} == {"pytorch"}

    wait_for(
        lambda: api.get(f"/api/v1/jobs/{pytorch_id}/status").json()["status"] == "Succeeded",
        timeout=90,
        message="the PyTorch job to succeed",
    )
    pytorch = _pods(api, pytorch_id)
    assert pytorch["cluster"] == "member-cluster-2"
    master_pod = next(p for p in pytorch["pods"] if p["replicaType"] == "master")
    assert (master_pod["phase"], master_pod["exitCode"]) == ("Succeeded", 0)
    assert master_pod["exitReason"] == "Completed"
    master = master_pod["name"]

    # The log, through the API and the page.
    log = api.get(f"/api/v1/jobs/{pytorch_id}/pods/{master}/log?tailLines=10")
    assert log.status_code == 200, log.content
    assert log.json()["pod"] == master and log.json()["tailLines"] == 10
    assert log.json()["log"].splitlines() == POD_LOG_LINES
    one_line = api.get(f"/api/v1/jobs/{pytorch_id}/pods/{master}/log?tailLines=1").json()
    assert one_line["log"].splitlines() == POD_LOG_LINES[-1:]
    bad = api.get(f"/api/v1/jobs/{pytorch_id}/pods/{master}/log?tailLines=0")
    assert bad.status_code == 400 and "tailLines" in bad.json()["error"]["fields"]

    fragment = page.get(reverse("jobs:pods", args=[pytorch_id]), **HTMX)
    assert fragment.status_code == STOP_POLLING  # the job is final
    body = fragment.content.decode()
    for pod in pytorch["pods"]:
        assert pod["name"] in body
        assert reverse("jobs:pod-log", args=[pytorch_id, pod["name"]]) in body
    assert ">master <" in body and "Succeeded" in body
    log_page = page.get(reverse("jobs:pod-log", args=[pytorch_id, master]))
    assert log_page.status_code == 200
    assert "<pre" in log_page.content.decode() and POD_LOG_LINES[0] in log_page.content.decode()
    log_fragment = page.get(reverse("jobs:pod-log", args=[pytorch_id, master]), **HTMX)
    assert "<html" not in log_fragment.content.decode()
    assert POD_LOG_LINES[1] in log_fragment.content.decode()

    # A pod of another job is not readable through this one, even in the same namespace.
    mpi_worker = worker["name"]
    foreign = api.get(f"/api/v1/jobs/{pytorch_id}/pods/{mpi_worker}/log")
    assert foreign.status_code == 404
    assert page.get(reverse("jobs:pod-log", args=[pytorch_id, mpi_worker])).status_code == 404

    # An outsider learns nothing about either job.
    stranger = token_client(outsider)
    assert stranger.get(f"/api/v1/jobs/{pytorch_id}/pods").status_code == 404
    assert stranger.get(f"/api/v1/jobs/{pytorch_id}/pods/{master}/log").status_code == 404
    other_page = _login(Client(), outsider)
    assert other_page.get(reverse("jobs:pods", args=[pytorch_id])).status_code == 404
    assert other_page.get(reverse("jobs:pod-log", args=[pytorch_id, master])).status_code == 404


@pytest.fixture
def unreachable_karmada(testbed, settings, tmp_path) -> Path:
    """The testbed's kubeconfig with its server moved to a port nothing listens on: a real
    refused connection, as when Karmada is down."""
    config = yaml.safe_load(Path(testbed.karmada_kubeconfig).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = "https://127.0.0.1:1"
    path = tmp_path / "karmada-unreachable.yaml"
    path.write_text(yaml.safe_dump(config))
    settings.KARMADA_KUBECONFIG_PATH = str(path)
    return path


@pytest.mark.testbed
def test_it_shows_a_friendly_error_when_karmada_is_unreachable(
    client, alice, api_alice, unreachable_karmada
):
    job = TrainingJobFactory(owner=alice, running=True)
    c = _login(client, alice)

    fragment = c.get(reverse("jobs:pods", args=[job.pk]), **HTMX)
    assert fragment.status_code == 200  # swapped in by htmx, and polling goes on
    body = fragment.content.decode()
    assert "The pods could not be read from member-cluster-1 just now." in body
    assert "retries every 5 seconds" in body
    assert c.get(reverse("jobs:pods", args=[job.pk])).status_code == 503
    log_page = c.get(reverse("jobs:pod-log", args=[job.pk, "any-pod"]))
    assert log_page.status_code == 503
    assert "The log could not be read" in log_page.content.decode()

    for url in (f"/api/v1/jobs/{job.pk}/pods", f"/api/v1/jobs/{job.pk}/pods/any-pod/log"):
        response = api_alice.get(url)
        assert response.status_code == 503, response.content
        assert response["Retry-After"] == "5"
        error = response.json()["error"]
        assert error["message"].startswith("Karmada or the job's cluster is unreachable")
        assert error["fields"] == {}

    # A final job still says so, and keeps asking rather than stopping on an error.
    job.status = JobStatus.SUCCEEDED
    job.save()
    assert c.get(reverse("jobs:pods", args=[job.pk]), **HTMX).status_code == 200
