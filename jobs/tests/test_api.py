"""The REST API: the original service's contract (routes, camelCase JSON), who sees what,
and one error shape for every error, whatever a client sends.

Creating a job enqueues its submission on commit; with the ``db`` fixture the transaction
never commits, so nothing reaches Karmada here (the e2e tests cover that path).
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
from django.core.management import call_command
from django.db.utils import OperationalError
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from jobs.models import JobEvent, JobStatus, NamespaceGrant, TrainingJob
from jobs.tests.contract import readme_example
from jobs.tests.factories import JobEventFactory, MemberClusterFactory, TrainingJobFactory

README_BODY = readme_example()


JOB_KEYS = {
    "id",
    "jobName",
    "namespace",
    "framework",
    "algorithm",
    "resources",
    "hyperparameters",
    "targetClusters",
    "runPolicy",
    "labels",
    "status",
    "statusReason",
    "statusMessage",
    "cluster",
    "kubernetesName",
    "owner",
    "createdAt",
    "updatedAt",
    "submittedAt",
    "startedAt",
    "finishedAt",
    "nextAttemptAt",
    "cleanedUpAt",
    # Job insight
    "waitingReason",
    "waiting",
    "failureClass",
    "failureSummary",
    "replicas",
    "replicasReadAt",
    "queuedSeconds",
    "runningSeconds",
    "totalSeconds",
}
STATUS_KEYS = {
    "id",
    "jobName",
    "status",
    "reason",
    "message",
    "cluster",
    "submittedAt",
    "startedAt",
    "finishedAt",
    "updatedAt",
    "nextAttemptAt",
    "isFinal",
    "queuePosition",
    "waitingReason",
    "failureClass",
}


def team_a_body(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(README_BODY)
    body["namespace"] = "team-a"
    body.update(changes)
    return body


def post_json(client: APIClient, url: str, body: Any, **extra: Any):
    return client.post(url, data=json.dumps(body), content_type="application/json", **extra)


def assert_error(response, status: int, *, field: str | None = None) -> dict[str, Any]:
    """The one error shape; returns the error object for further checks."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error.get("fields", {}), dict)
    for path, reasons in error.get("fields", {}).items():
        assert isinstance(path, str)
        assert isinstance(reasons, list) and all(isinstance(r, str) for r in reasons)
    if field is not None:
        assert field in error["fields"], error
    return error


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The personas are created for every test; the real hasher costs ~0.4 s a user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def clusters(db):
    return [
        MemberClusterFactory(name="member-cluster-1"),
        MemberClusterFactory(name="member-cluster-2", no_gpu=True),
    ]


@pytest.fixture
def alice_job(alice):
    job = TrainingJobFactory(owner=alice, name="alice-xgb", namespace="team-a")
    JobEventFactory(job=job)
    return job


# --- health ---------------------------------------------------------------------------


def test_health_answers_without_credentials(db):
    response = APIClient().get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "healthy"}


def test_health_reports_unreachable_database(db, monkeypatch):
    class BrokenConnection:
        def cursor(self):
            raise OperationalError("connection refused")

    monkeypatch.setattr("mlplatform.health.connection", BrokenConnection())

    response = APIClient().get("/health")

    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"


# --- create ---------------------------------------------------------------------------


def test_it_creates_the_readme_job(api_alice, alice, clusters):
    NamespaceGrant.objects.create(user=alice, namespace="default")

    response = post_json(api_alice, "/api/v1/jobs", README_BODY)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert JOB_KEYS <= set(body)
    assert body["status"] == "Pending"
    assert body["owner"] == "alice"
    assert response["Location"] == f"/api/v1/jobs/{body['id']}"
    job = TrainingJob.objects.get(id=body["id"])
    assert (job.name, job.namespace, job.framework) == ("xgboost-training", "default", "xgboost")
    assert (job.cpu_cores, job.memory_gib, job.gpu_count) == (4, 8, 0)
    assert job.target_clusters == ["member-cluster-1"]
    event = JobEvent.objects.get(job=job)
    assert (event.from_status, event.to_status) == ("", JobStatus.PENDING)


def test_created_job_echoes_the_request(api_alice, clusters):
    body = post_json(api_alice, "/api/v1/jobs", team_a_body()).json()

    assert body["jobName"] == "xgboost-training"
    assert body["namespace"] == "team-a"
    assert body["algorithm"]["source"] == "default"
    assert body["algorithm"]["algorithmName"] == "xgboost"
    assert body["algorithm"]["framework"] == "xgboost"
    assert body["resources"] == README_BODY["resources"]
    assert body["targetClusters"] == ["member-cluster-1"]
    # Defaults are filled in, but every value the client sent comes back unchanged.
    sent = README_BODY["hyperparameters"]["xgboost"]
    assert {k: body["hyperparameters"]["xgboost"][k] for k in sent} == sent


def test_a_read_job_can_be_posted_back(api_alice, clusters):
    created = post_json(api_alice, "/api/v1/jobs", team_a_body()).json()
    read = api_alice.get(f"/api/v1/jobs/{created['id']}").json()
    request_keys = (
        "namespace",
        "algorithm",
        "resources",
        "hyperparameters",
        "targetClusters",
        "runPolicy",
        "labels",
    )
    again = {key: read[key] for key in request_keys} | {"jobName": "xgboost-training-2"}

    response = post_json(api_alice, "/api/v1/jobs", again)

    assert response.status_code == 201, response.json()
    assert response.json()["hyperparameters"] == read["hyperparameters"]


def test_it_accepts_a_trailing_slash(api_alice, clusters):
    response = post_json(api_alice, "/api/v1/jobs/", team_a_body())

    assert response.status_code == 201, response.json()


def test_it_rejects_a_namespace_without_grant(api_charlie, clusters):
    response = post_json(api_charlie, "/api/v1/jobs", team_a_body())

    assert_error(response, 403, field="namespace")
    assert not TrainingJob.objects.exists()


def test_it_names_the_invalid_field(api_alice, clusters):
    body = team_a_body()
    body["resources"]["instanceResources"]["cpuCores"] = -2

    response = post_json(api_alice, "/api/v1/jobs", body)

    assert_error(response, 400, field="resources.instanceResources.cpuCores")


def test_it_names_the_invalid_hyperparameter(api_alice, clusters):
    body = team_a_body()
    body["hyperparameters"]["xgboost"]["eta"] = "fast"

    response = post_json(api_alice, "/api/v1/jobs", body)

    assert_error(response, 400, field="hyperparameters.xgboost.eta")


def test_it_rejects_an_unknown_target_cluster(api_alice, clusters):
    response = post_json(api_alice, "/api/v1/jobs", team_a_body(targetClusters=["nowhere"]))

    assert_error(response, 400, field="targetClusters")


def test_it_reports_every_missing_field(api_alice, clusters):
    error = assert_error(post_json(api_alice, "/api/v1/jobs", {}), 400)

    assert {"jobName", "resources"} <= set(error["fields"])


def test_it_rejects_malformed_json(api_alice):
    response = api_alice.post("/api/v1/jobs", data='{"jobName": ', content_type="application/json")

    error = assert_error(response, 400)
    assert "not valid JSON" in error["message"]


@pytest.mark.parametrize("body", [[], [README_BODY], "a string", 42, None, True])
def test_it_rejects_a_body_that_is_not_an_object(api_alice, body):
    error = assert_error(post_json(api_alice, "/api/v1/jobs", body), 400)

    assert "JSON object" in error["message"]


def test_it_rejects_a_form_body(api_alice):
    response = api_alice.post("/api/v1/jobs", data={"jobName": "x"}, format="multipart")

    assert_error(response, 415)


def test_it_rejects_a_body_without_content_type(api_alice):
    response = api_alice.generic("POST", "/api/v1/jobs", json.dumps(README_BODY), content_type="")

    assert_error(response, 415)


def test_it_rejects_an_oversized_body(api_alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = team_a_body(labels={"note": "x" * 2000})

    assert_error(post_json(api_alice, "/api/v1/jobs", body), 413)


# --- list -----------------------------------------------------------------------------


def test_list_is_paginated(api_alice, alice):
    TrainingJobFactory.create_batch(3, owner=alice)

    response = api_alice.get("/api/v1/jobs", {"pageSize": 2})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert "page=2" in body["next"] and body["previous"] is None
    assert JOB_KEYS <= set(body["results"][0])
    second = api_alice.get(body["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None


def test_a_list_page_costs_the_same_queries_for_any_page_and_reads_no_manifests(api_alice, alice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    TrainingJobFactory.create_batch(2, owner=alice, manifests=[{"kind": "XGBoostJob"}])
    with CaptureQueriesContext(connection) as small:
        assert len(api_alice.get("/api/v1/jobs").json()["results"]) == 2
    TrainingJobFactory.create_batch(20, owner=alice, manifests=[{"kind": "XGBoostJob"}])
    with CaptureQueriesContext(connection) as large:
        assert len(api_alice.get("/api/v1/jobs").json()["results"]) == 22

    # No query per row: a deferred column read on a row would add one each.
    assert len(large) == len(small)
    page = [q["sql"] for q in large.captured_queries if 'FROM "jobs_trainingjob"' in q["sql"]]
    assert page and not any('"manifests"' in sql for sql in page), page


def test_list_shows_the_team_its_jobs(api_alice, api_bob, alice_job):
    for client in (api_alice, api_bob):
        ids = [job["id"] for job in client.get("/api/v1/jobs").json()["results"]]
        assert ids == [str(alice_job.id)]


def test_list_hides_other_namespaces_from_outsider(api_charlie, charlie, alice_job):
    own = TrainingJobFactory(namespace="team-c", owner=charlie)

    ids = [job["id"] for job in api_charlie.get("/api/v1/jobs").json()["results"]]

    assert ids == [str(own.id)]


def test_list_shows_operator_everything(api_operator, alice_job):
    other = TrainingJobFactory(namespace="team-c")

    ids = {job["id"] for job in api_operator.get("/api/v1/jobs").json()["results"]}

    assert ids == {str(alice_job.id), str(other.id)}


def _names(client: APIClient, **params: Any) -> list[str]:
    response = client.get("/api/v1/jobs", params)
    assert response.status_code == 200, response.json()
    return [job["jobName"] for job in response.json()["results"]]


def test_list_filters(api_operator):
    TrainingJobFactory(name="a-run", running=True, cluster="member-cluster-1")
    TrainingJobFactory(name="b-done", succeeded=True, cluster="member-cluster-2")
    TrainingJobFactory(name="c-torch", framework="pytorch", namespace="team-c")
    TrainingJobFactory(name="d-failed", submit_failed=True)

    assert _names(api_operator, status="Running") == ["a-run"]
    assert sorted(_names(api_operator, status="Running,Succeeded")) == ["a-run", "b-done"]
    both = api_operator.get("/api/v1/jobs?status=Running&status=SubmitFailed").json()
    assert sorted(j["jobName"] for j in both["results"]) == ["a-run", "d-failed"]
    assert _names(api_operator, framework="pytorch") == ["c-torch"]
    assert _names(api_operator, namespace="team-c") == ["c-torch"]
    assert _names(api_operator, cluster="member-cluster-2") == ["b-done"]
    assert _names(api_operator, search="DONE") == ["b-done"]
    assert _names(api_operator, ordering="jobName") == ["a-run", "b-done", "c-torch", "d-failed"]
    assert _names(api_operator, ordering="-jobName")[0] == "d-failed"


def test_list_is_newest_first_by_default(api_alice):
    first = TrainingJobFactory(name="first")
    second = TrainingJobFactory(name="second")
    TrainingJob.objects.filter(id=first.id).update(created_at=second.created_at.replace(year=2020))

    assert _names(api_alice) == ["second", "first"]
    assert _names(api_alice, ordering="createdAt") == ["first", "second"]


@pytest.mark.parametrize(
    "param, value",
    [
        ("status", "Exploded"),
        ("status", "Running,nope"),
        ("framework", "cobol"),
        ("ordering", "password"),
        ("ordering", "--createdAt"),
        ("search", "x" * 101),
        ("pageSize", "0"),
        ("pageSize", "ten"),
        ("pageSize", "501"),
        ("page", "0"),
        ("page", "-1"),
        ("page", "two"),
        ("status", "\x00"),
        ("namespace", "team-a\x00"),
        ("cluster", "\x00"),
        ("search", "a\x00b"),
    ],
)
def test_list_rejects_invalid_parameters(api_alice, param, value):
    assert_error(api_alice.get("/api/v1/jobs", {param: value}), 400, field=param)


def test_list_refuses_a_page_past_the_end(api_alice, alice_job):
    assert_error(api_alice.get("/api/v1/jobs", {"page": 5}), 404, field="page")


# --- detail and status -----------------------------------------------------------------


def test_detail_has_events_and_manifests(api_alice, alice_job):
    response = api_alice.get(f"/api/v1/jobs/{alice_job.id}")

    assert response.status_code == 200
    body = response.json()
    assert JOB_KEYS | {"events", "manifests"} <= set(body)
    assert body["events"] == [
        {
            "time": body["events"][0]["time"],
            "from": "",
            "to": "Pending",
            "reason": "Created",
            "message": "Accepted.",
            "cluster": "",
        }
    ]
    assert body["manifests"] == []
    assert body["hyperparameters"] == {"xgboost": alice_job.hyperparameters}


def test_detail_for_same_team(api_bob, alice_job):
    assert api_bob.get(f"/api/v1/jobs/{alice_job.id}").status_code == 200


def test_detail_for_operator(api_operator, alice_job):
    assert api_operator.get(f"/api/v1/jobs/{alice_job.id}").status_code == 200


@pytest.mark.parametrize("suffix", ["", "/status", "/", "/status/"])
def test_it_rejects_outsider(api_charlie, alice_job, suffix):
    response = api_charlie.get(f"/api/v1/jobs/{alice_job.id}{suffix}")

    error = assert_error(response, 404)
    assert str(alice_job.id) not in error["message"]


@pytest.mark.parametrize(
    "job_id", [str(uuid.uuid4()), "not-a-uuid", "1", "%20", "%00", "ÿ" * 300, "' OR 1=1 --"]
)
def test_it_handles_missing_or_malformed_ids(api_alice, job_id):
    assert_error(api_alice.get(f"/api/v1/jobs/{job_id}"), 404)
    assert_error(api_alice.get(f"/api/v1/jobs/{job_id}/status"), 404)
    assert_error(api_alice.delete(f"/api/v1/jobs/{job_id}"), 404)
    assert_error(api_alice.post(f"/api/v1/jobs/{job_id}/resubmit"), 404)


def test_status_answers_the_short_form(api_alice, alice):
    job = TrainingJobFactory(owner=alice, succeeded=True)

    response = api_alice.get(f"/api/v1/jobs/{job.id}/status")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == STATUS_KEYS
    assert body["status"] == "Succeeded"
    assert body["reason"] == "XGBoostJobSucceeded"
    assert body["cluster"] == "member-cluster-1"
    assert body["isFinal"] is True
    assert body["finishedAt"] is not None


def test_status_of_a_running_job_is_not_final(api_alice):
    job = TrainingJobFactory(running=True)

    assert api_alice.get(f"/api/v1/jobs/{job.id}/status").json()["isFinal"] is False


# --- delete and resubmit ---------------------------------------------------------------


def test_delete_marks_the_job_deleting(api_alice, alice_job):
    response = api_alice.delete(f"/api/v1/jobs/{alice_job.id}")

    assert response.status_code == 202
    assert response.json()["status"] == "Deleting"
    alice_job.refresh_from_db()
    assert alice_job.status == JobStatus.DELETING
    assert alice_job.events.filter(to_status=JobStatus.DELETING).exists()


def test_delete_twice_conflicts(api_alice, alice_job):
    api_alice.delete(f"/api/v1/jobs/{alice_job.id}")

    assert_error(api_alice.delete(f"/api/v1/jobs/{alice_job.id}"), 409)


def test_delete_of_a_deleted_job_conflicts(api_alice):
    job = TrainingJobFactory(deleted=True)

    assert_error(api_alice.delete(f"/api/v1/jobs/{job.id}/"), 409)


def test_delete_by_same_team(api_bob, alice_job):
    assert api_bob.delete(f"/api/v1/jobs/{alice_job.id}").status_code == 202


def test_delete_rejects_outsider(api_charlie, alice_job):
    assert_error(api_charlie.delete(f"/api/v1/jobs/{alice_job.id}"), 404)
    alice_job.refresh_from_db()
    assert alice_job.status == JobStatus.PENDING


def test_resubmit_sends_a_failed_job_again(api_alice):
    job = TrainingJobFactory(submit_failed=True)

    response = api_alice.post(f"/api/v1/jobs/{job.id}/resubmit")

    assert response.status_code == 202
    assert response.json()["status"] == "Pending"
    assert job.events.filter(from_status="SubmitFailed", to_status="Pending").exists()


def test_resubmit_of_a_running_job_conflicts(api_alice):
    job = TrainingJobFactory(running=True)

    error = assert_error(api_alice.post(f"/api/v1/jobs/{job.id}/resubmit"), 409)
    assert "Running" in error["message"]


def test_resubmit_rejects_outsider(api_charlie):
    job = TrainingJobFactory(submit_failed=True)

    assert_error(api_charlie.post(f"/api/v1/jobs/{job.id}/resubmit"), 404)
    job.refresh_from_db()
    assert job.status == JobStatus.SUBMIT_FAILED


# --- authentication --------------------------------------------------------------------

ENDPOINTS = [
    ("get", "/api/v1/jobs"),
    ("post", "/api/v1/jobs"),
    ("get", "/api/v1/jobs/{id}"),
    ("delete", "/api/v1/jobs/{id}"),
    ("get", "/api/v1/jobs/{id}/status"),
    ("post", "/api/v1/jobs/{id}/resubmit"),
    ("get", "/api/v1/clusters"),
    ("get", "/api/v1/frameworks"),
    ("get", "/api/schema"),
    ("put", "/api/v1/jobs"),
]


@pytest.mark.parametrize("method, url", ENDPOINTS)
def test_it_requires_credentials(alice_job, method, url):
    response = getattr(APIClient(), method)(url.format(id=alice_job.id))

    assert_error(response, 401)
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(
    "header",
    ["Token 0123456789abcdef", "Token a\x00b", "Token " + "f" * 5000, "Token ÿ", "Token a b"],
)
def test_it_rejects_a_bad_token(alice_job, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    assert_error(client.get("/api/v1/jobs"), 401)
    assert_error(client.get("/api/schema"), 401)


def test_drf_create_token_gives_a_working_token(alice, alice_job):
    call_command("drf_create_token", "alice")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=alice).key}")

    assert client.get("/api/v1/jobs").json()["count"] == 1


def test_session_works_for_reads(alice, alice_job):
    client = APIClient()
    client.force_login(alice)

    assert client.get("/api/v1/jobs").json()["count"] == 1


def test_session_writes_need_csrf(alice, clusters):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)

    response = post_json(client, "/api/v1/jobs", team_a_body())

    error = assert_error(response, 403)
    assert "CSRF" in error["message"]


def test_session_writes_with_csrf_token(alice, clusters):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    # What a browser holds after any page rendered a form: the cookie, echoed in a header.
    token = "A" * 32
    client.cookies["csrftoken"] = token

    response = post_json(client, "/api/v1/jobs", team_a_body(), HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 201, response.json()


# --- other errors ---------------------------------------------------------------------


def allowed(response) -> set[str]:
    return {method.strip() for method in response["Allow"].split(",")}


def test_unsupported_method_is_405(api_alice, alice_job):
    response = api_alice.put("/api/v1/jobs")

    assert_error(response, 405)
    assert allowed(response) == {"GET", "HEAD", "POST", "OPTIONS"}
    assert_error(api_alice.patch(f"/api/v1/jobs/{alice_job.id}"), 405)
    assert_error(api_alice.get(f"/api/v1/jobs/{alice_job.id}/resubmit"), 405)


def test_options_lists_the_methods(api_alice, alice_job):
    response = api_alice.options(f"/api/v1/jobs/{alice_job.id}")

    assert response.status_code in (200, 204)
    assert allowed(response) == {"GET", "HEAD", "DELETE", "OPTIONS"}


def test_unknown_api_url_is_404_in_the_shape(api_alice):
    assert_error(api_alice.get("/api/v2/jobs"), 404)
    assert_error(api_alice.get("/api/v1/jobs/x/y/z"), 404)


# --- clusters and frameworks -----------------------------------------------------------


def test_clusters_list(api_charlie, clusters):
    MemberClusterFactory(name="gone", present=False)

    response = api_charlie.get("/api/v1/clusters")

    assert response.status_code == 200
    body = response.json()
    assert [c["name"] for c in body] == ["member-cluster-1", "member-cluster-2"]
    first = body[0]
    assert first["ready"] is True
    assert first["kubernetesVersion"] == "v1.31.0"
    assert (first["cpuAllocatable"], first["cpuAllocated"], first["cpuFree"]) == (64, 0, 64)
    assert first["memoryFreeGiB"] == 256
    assert first["gpuFree"] == 16 and body[1]["gpuFree"] == 0
    assert first["lastSyncedAt"]


def test_frameworks_list(api_alice):
    response = api_alice.get("/api/v1/frameworks")

    assert response.status_code == 200
    frameworks = {f["name"]: f for f in response.json()}
    assert set(frameworks) == {
        "tensorflow",
        "pytorch",
        "xgboost",
        "lightgbm",
        "jax",
        "horovod",
        "deepspeed",
    }
    assert frameworks["xgboost"]["kind"] == "XGBoostJob"
    eta = next(p for p in frameworks["xgboost"]["hyperparameters"] if p["name"] == "eta")
    assert eta["type"] == "float"
    assert eta["default"] is not None
    assert eta["help"]


# --- schema and docs --------------------------------------------------------------------


def test_schema_documents_the_api(api_alice):
    response = api_alice.get("/api/schema", {"format": "json"})

    assert response.status_code == 200
    schema = json.loads(response.content)
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/jobs"])
    assert {"get", "delete"} <= set(paths["/api/v1/jobs/{job_id}"])
    assert "/api/v1/jobs/{job_id}/status" in paths
    assert "/api/v1/jobs/" not in paths
    request = schema["components"]["schemas"]["JobRequest"]
    assert "resources" in request["properties"]
    resources = schema["components"]["schemas"]["ResourcesRequest"]
    assert "instanceResources" in resources["properties"]
    assert "events" in schema["components"]["schemas"]["JobDetail"]["properties"]


def test_schema_yaml_by_default(api_alice):
    response = api_alice.get("/api/schema")

    assert response.status_code == 200
    assert b"openapi:" in response.content


def test_docs_need_a_login(db):
    response = APIClient().get("/api/docs")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_docs_are_served_without_cdn(client, alice):
    client.force_login(alice)

    response = client.get("/api/docs")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert "https://" not in html and "http://" not in html


def test_docs_assets_are_served_locally(client, alice):
    client.force_login(alice)

    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")

    assert asset.status_code == 200, (
        "Swagger UI's files come from drf-spectacular-sidecar: it must be in requirements.txt "
        "and 'drf_spectacular_sidecar' in INSTALLED_APPS."
    )


# --- no input causes a 500 ---------------------------------------------------------------

BAD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    -1e308,
    1e308,
    2**53 + 1,
    2**63 - 1,
    "",
    " ",
    "x" * 5000,
    "💥🔥",
    "\u202eevil",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    [],
    [None],
    [[[]]],
    {},
    {"a": {"b": {"c": [1, {"d": None}]}}},
    ["member-cluster-1"] * 100,
]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, sub in value.items():
            found += _paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            found += _paths(sub, (*prefix, index))
    return found


def _replace(body: Any, path: tuple, value: Any) -> Any:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


def _delete(body: Any, path: tuple) -> Any:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return body


_BASE = team_a_body()
_PATHS = _paths(_BASE)
FUZZ_BODIES: list[Any] = (
    [_replace(_BASE, path, value) for path in _PATHS for value in BAD_VALUES]
    + [_delete(_BASE, path) for path in _PATHS]
    + [_replace(_BASE, path, {"unexpected": 1}) for path in _PATHS]
    + [
        team_a_body(extra="field"),
        team_a_body(algorithm={"source": "custom", "algorithmName": "mine"}),
        team_a_body(algorithm={"source": "custom", "image": "x" * 600, "command": ["a"] * 1000}),
        team_a_body(algorithm={"source": "custom", "image": "img", "command": "not a list"}),
        team_a_body(hyperparameters={"pytorch": {"epochs": 3}}),
        team_a_body(hyperparameters={"xgboost": {}, "pytorch": {}}),
        team_a_body(hyperparameters={"xgboost": {"eta": 0.3, "eta ": 1, "": 2}}),
        team_a_body(labels={"x" * 300: "y"}, runPolicy={"backoffLimit": -5}),
        team_a_body(labels=[1, 2], runPolicy="always"),
        team_a_body(jobName="UPPER_case name!"),
        team_a_body(jobName="a" * 64),
        team_a_body(jobName="ünïcødé"),
        team_a_body(namespace="team-a; DROP TABLE jobs_trainingjob"),
        {k: None for k in _BASE},
        {"": ""},
        {"a" * 10000: 1},
    ]
)
# Bodies json.dumps cannot produce, sent as raw bytes.
RAW_BODIES: list[bytes] = [
    b"",
    b"{",
    b"}",
    b"null",
    b"nul",
    b"NaN",
    b'{"jobName": NaN}',
    b'{"jobName": Infinity}',
    b'{"cpu": 1e999}',
    b'{"cpu": -1e999}',
    b'{"n": ' + b"9" * 5000 + b"}",
    b'{"n": ' + b"9" * 30 + b"}",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b"\xff\xfe\x00\x00",
    b'{"jobName": "\xc3\x28"}',
    b'\xef\xbb\xbf{"jobName": "bom"}',
    b'{"jobName": "nul\\u0000byte"}',
    b'{"jobName": "lone \\ud800 surrogate"}',
    b'{"jobName": "x", "jobName": "duplicate keys"}',
    b'{"labels": {"k\\u0000": "v"}}',
    json.dumps(team_a_body(jobName="x\u0000y")).encode(),
    json.dumps(_replace(_BASE, ("resources", "instanceCount"), 10**30)).encode(),
    json.dumps(_replace(_BASE, ("resources", "volumeSizeGB"), 2**40)).encode(),
    json.dumps(_replace(_BASE, ("hyperparameters", "xgboost", "num_round"), 2**62)).encode(),
]


@pytest.mark.parametrize("body", FUZZ_BODIES, ids=lambda b: json.dumps(b)[:80])
def test_no_json_body_causes_a_server_error(api_alice, clusters, body):
    response = post_json(api_alice, "/api/v1/jobs", body)

    if response.status_code != 201:
        assert_error(response, response.status_code)
        assert 400 <= response.status_code < 500


@pytest.mark.parametrize("raw", RAW_BODIES, ids=lambda b: repr(b[:40]))
def test_no_raw_body_causes_a_server_error(api_alice, clusters, raw):
    response = api_alice.generic("POST", "/api/v1/jobs", raw, content_type="application/json")

    assert_error(response, response.status_code)
    assert 400 <= response.status_code < 500


# --- hostile input: authorized first, linear, bounded answers -----------------------------


def test_an_outsider_is_refused_before_the_body_is_validated(api_charlie, clusters):
    body = team_a_body(
        targetClusters=[f"Bad_{i}" for i in range(1000)], jobName="Not A Name", resources=1
    )

    error = assert_error(post_json(api_charlie, "/api/v1/jobs", body), 403, field="namespace")

    # Nothing about the rest of the body is said to someone who may not use the namespace.
    assert set(error["fields"]) == {"namespace"}


def _compact(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        n, d = divmod(n, 36)
        text = digits[d] + text
        if not n:
            return text


def test_a_huge_list_of_clusters_is_one_short_error(api_alice, clusters):
    # About as many distinct names as the body cap lets through.
    names = [_base36(i) for i in range(300_000)]
    raw = _compact(team_a_body(targetClusters=names))

    response = api_alice.post("/api/v1/jobs", data=raw, content_type="application/json")

    error = assert_error(response, 400, field="targetClusters")
    assert error["fields"]["targetClusters"] == ["At most 100 clusters. Got 300000."]
    assert len(response.content) < 1000


def test_an_error_answer_is_bounded_whatever_the_body(api_alice, clusters):
    # Every key is its own problem (unknown fields at the top and hyperparameters for
    # frameworks the job does not use): without a bound the answer grows with the body.
    body = team_a_body(**{f"u{i}": 1 for i in range(100_000)})
    body["hyperparameters"].update({f"{i}-" + "x" * 300: {} for i in range(2_000)})
    raw = _compact(body)
    assert len(raw) < 2_621_440  # under the body cap: this is about the answer's size

    response = api_alice.post("/api/v1/jobs", data=raw, content_type="application/json")

    error = assert_error(response, 400)
    assert len(error["fields"]) == 50
    assert all(len(path) <= 200 for path in error["fields"])
    assert all(len(r) <= 1000 for reasons in error["fields"].values() for r in reasons)
    assert "more problems are not shown" in error["message"]
    assert len(response.content) < 30_000
    assert not TrainingJob.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"jobName": "xgboost-training\n"},
        {"namespace": "team-a\n"},
        {"targetClusters": ["member-cluster-1\n"]},
        {"labels": {"mlplatform.io\n/job-id": "x"}},
        {"labels": {"team": "a\n"}},
    ],
    ids=["jobName", "namespace", "cluster", "label-key", "label-value"],
)
def test_a_trailing_newline_is_a_400(api_alice, clusters, changes):
    [(field, _)] = changes.items()
    error = assert_error(post_json(api_alice, "/api/v1/jobs", team_a_body(**changes)), 400)
    assert any(path.startswith(field) for path in error["fields"]), error


def test_a_token_key_must_be_hex_to_its_end(alice, django_assert_num_queries):
    from rest_framework.exceptions import AuthenticationFailed

    from jobs.api.auth import TokenAuthentication

    token, _ = Token.objects.get_or_create(user=alice)
    assert TokenAuthentication().authenticate_credentials(token.key)[0] == alice
    # Refused on its form, before the database is asked.
    with django_assert_num_queries(0), pytest.raises(AuthenticationFailed):
        TokenAuthentication().authenticate_credentials(token.key + "\n")


def test_a_default_algorithm_name_that_is_no_built_in_is_a_400(api_alice, clusters):
    body = team_a_body(algorithm={"source": "default", "algorithmName": "my-model"})

    assert_error(post_json(api_alice, "/api/v1/jobs", body), 400, field="algorithm.algorithmName")
    assert not TrainingJob.objects.exists()


def test_a_framework_the_hyperparameters_contradict_is_a_400_naming_both(api_alice, clusters):
    body = team_a_body(hyperparameters={"pytorch": {"epochs": 3}})

    error = assert_error(post_json(api_alice, "/api/v1/jobs", body), 400)

    assert {"algorithm.algorithmName", "hyperparameters.pytorch"} <= set(error["fields"])


def test_a_custom_algorithm_is_still_created(api_alice, clusters):
    body = team_a_body(
        algorithm={
            "source": "custom",
            "algorithmName": "iris-classifier",
            "framework": "xgboost",
            "image": "registry.example.com/team/iris:1.0",
            "command": ["python", "train.py"],
        },
        hyperparameters={"xgboost": {"num_round": 10, "dataset": "iris"}},
    )

    response = post_json(api_alice, "/api/v1/jobs", body)

    assert response.status_code == 201, response.json()
    assert response.json()["algorithm"]["algorithmName"] == "iris-classifier"


class TestDatabaseDown:
    """A database restart answers 503 with Retry-After, in the one error shape, never a 500
    (the fault suite restarts a real PostgreSQL; here the error is injected)."""

    @pytest.fixture
    def db_down(self, monkeypatch):
        from django.db import OperationalError

        from jobs import selectors

        def refuse(**kwargs):
            raise OperationalError("connection to server at 127.0.0.1, port 5432 failed")

        monkeypatch.setattr(selectors, "job_get", refuse)

    def test_the_api_answers_503_with_retry_after(self, api_alice, db_down):
        response = api_alice.get(f"/api/v1/jobs/{uuid.uuid4()}")
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
        assert "database is unavailable" in response.json()["error"]["message"]

    def test_a_failure_outside_the_api_views_also_answers_503(self, alice, monkeypatch):
        from django.contrib.sessions.backends.db import SessionStore
        from django.db import OperationalError
        from django.test import Client

        client = Client(raise_request_exception=False)
        client.force_login(alice)

        def refuse(self):
            raise OperationalError("the database system is shutting down")

        monkeypatch.setattr(SessionStore, "load", refuse)
        page = client.get("/")
        assert page.status_code == 503 and page["Retry-After"] == "5"
        api = client.get("/api/v1/jobs")
        assert api.status_code == 503
        assert api.json()["error"]["message"].startswith("The platform's database")
