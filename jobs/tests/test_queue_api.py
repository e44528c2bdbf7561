"""/api/v1/quotas and /api/v1/queue, and the job JSON's priority and queuePosition."""

from __future__ import annotations

import pytest

from clusters.models import MemberCluster
from jobs.models import JobStatus, NamespaceQuota, TrainingJob
from jobs.tests.contract import readme_example
from jobs.tests.test_queue import body


@pytest.fixture
def gpu_fleet(db):
    return MemberCluster.objects.create(
        name="member-cluster-1",
        ready=True,
        cpu_allocatable=256,
        memory_allocatable_gib=1024,
        gpu_allocatable=8,
    )


def _create(api, data):
    response = api.post("/api/v1/jobs", data, format="json")
    assert response.status_code == 201, response.content
    return response.json()


class TestJobJson:
    def test_the_original_request_without_priority_still_gives_201(self, make_user, gpu_fleet):
        from mlplatform.testing import token_client

        api = token_client(make_user("mle", namespaces=("default",)))
        job = _create(api, readme_example())
        assert job["priority"] == "normal"
        assert job["queuePosition"] is None
        assert job["status"] == "Pending"

    def test_priority_is_taken_and_a_bad_one_named(self, api_alice, gpu_fleet):
        assert _create(api_alice, body(priority="high"))["priority"] == "high"
        response = api_alice.post("/api/v1/jobs", body(priority="urgent"), format="json")
        assert response.status_code == 400
        assert "Allowed: high, normal, low" in response.json()["error"]["fields"]["priority"][0]

    def test_a_queued_job_shows_its_position_everywhere(self, api_alice, gpu_fleet):
        NamespaceQuota.objects.create(namespace="team-a", gpus=1)
        _create(api_alice, body("one"))
        queued = _create(api_alice, body("two"))
        assert queued["status"] == "Queued" and queued["queuePosition"] == 1
        assert "team-a uses 1 of 1 GPUs" in queued["statusMessage"]
        status = api_alice.get(f"/api/v1/jobs/{queued['id']}/status").json()
        assert status["queuePosition"] == 1 and status["status"] == "Queued"
        listed = api_alice.get("/api/v1/jobs?status=Queued").json()["results"]
        assert [j["queuePosition"] for j in listed] == [1]


class TestQuotasApi:
    def test_operators_set_read_and_delete_a_quota(self, api_operator, gpu_fleet):
        url = "/api/v1/quotas/team-a"
        response = api_operator.put(
            url,
            {
                "gpus": 8,
                "cpuCores": 64,
                "memoryGiB": None,
                "runningJobs": 4,
                "priorities": ["low", "normal"],
                "clusters": {"member-cluster-1": {"gpus": 4}},
            },
            format="json",
        )
        assert response.status_code == 200, response.content
        quota = response.json()
        assert quota["gpus"] == 8 and quota["memoryGiB"] is None
        assert quota["priorities"] == ["normal", "low"]  # kept highest first
        assert quota["clusters"]["member-cluster-1"]["gpus"] == 4
        assert quota["default"] is False
        assert api_operator.get(url).json()["runningJobs"] == 4
        listed = api_operator.get("/api/v1/quotas").json()
        assert [q["namespace"] for q in listed["results"]] == ["team-a"]
        assert listed["defaults"]["gpus"] is None
        assert api_operator.delete(url).status_code == 204
        assert api_operator.get(url).json()["default"] is True
        assert api_operator.delete(url).status_code == 404

    def test_bad_values_are_named_in_the_error_shape(self, api_operator, db):
        response = api_operator.put(
            "/api/v1/quotas/team-a",
            {
                "gpus": -1,
                "cpuCores": "many",
                "priorities": ["urgent"],
                "bogus": 1,
                "clusters": {"c1": {"runningJobs": 1.5}},
            },
            format="json",
        )
        assert response.status_code == 400
        fields = response.json()["error"]["fields"]
        assert set(fields) == {"gpus", "cpuCores", "priorities", "bogus", "clusters.c1.runningJobs"}
        assert not NamespaceQuota.objects.exists()

    def test_users_read_their_namespaces_quota_but_may_not_change_it(self, api_alice, db):
        NamespaceQuota.objects.create(namespace="team-a", gpus=2)
        assert api_alice.get("/api/v1/quotas/team-a").json()["gpus"] == 2
        assert [q["namespace"] for q in api_alice.get("/api/v1/quotas").json()["results"]] == [
            "team-a"
        ]
        response = api_alice.put("/api/v1/quotas/team-a", {"gpus": 100}, format="json")
        assert response.status_code == 403
        assert NamespaceQuota.objects.get().gpus == 2

    def test_it_rejects_outsider_with_404(self, api_charlie, db):
        NamespaceQuota.objects.create(namespace="team-a", gpus=2)
        for method in ("get", "put", "delete"):
            response = getattr(api_charlie, method)("/api/v1/quotas/team-a", {}, format="json")
            assert response.status_code == 404, method
            assert "error" in response.json()
        assert api_charlie.get("/api/v1/queue?namespace=team-a").status_code == 404

    def test_system_namespaces_cannot_have_a_quota(self, api_operator, db):
        response = api_operator.put("/api/v1/quotas/kube-system", {"gpus": 1}, format="json")
        assert response.status_code == 400 and "namespace" in response.json()["error"]["fields"]

    def test_raising_a_quota_through_the_api_admits_at_once(
        self, api_operator, api_alice, gpu_fleet
    ):
        NamespaceQuota.objects.create(namespace="team-a", gpus=1)
        _create(api_alice, body("one"))
        waiting = _create(api_alice, body("two"))
        api_operator.put("/api/v1/quotas/team-a", {"gpus": 2}, format="json")
        assert TrainingJob.objects.get(id=waiting["id"]).status == JobStatus.PENDING


class TestQueueApi:
    def test_it_shows_usage_against_quota_and_waiting_jobs_in_order(self, api_alice, gpu_fleet):
        NamespaceQuota.objects.create(namespace="team-a", gpus=1)
        _create(api_alice, body("running"))
        low = _create(api_alice, body("low", priority="low"))
        high = _create(api_alice, body("high", priority="high"))
        answer = api_alice.get("/api/v1/queue").json()
        assert answer["priorities"] == ["high", "normal", "low"]
        (team_a,) = answer["namespaces"]
        assert team_a["namespace"] == "team-a"
        assert team_a["quota"]["gpus"] == 1
        assert team_a["usage"]["gpus"] == 1 and team_a["usage"]["runningJobs"] == 1
        assert [j["id"] for j in team_a["waiting"]] == [high["id"], low["id"]]
        assert [j["queuePosition"] for j in team_a["waiting"]] == [1, 2]

    def test_users_see_only_their_namespaces_operators_all(
        self, api_alice, api_charlie, api_operator, gpu_fleet
    ):
        NamespaceQuota.objects.create(namespace="team-a", gpus=1)
        NamespaceQuota.objects.create(namespace="team-z", gpus=1)
        assert [n["namespace"] for n in api_charlie.get("/api/v1/queue").json()["namespaces"]] == [
            "team-c"
        ]
        names = [n["namespace"] for n in api_operator.get("/api/v1/queue").json()["namespaces"]]
        assert names == ["team-a", "team-z"]

    def test_it_needs_credentials(self, client, db):
        assert client.get("/api/v1/queue").status_code == 401
        assert client.get("/api/v1/quotas").status_code == 401


def test_the_schema_documents_the_queue(api_alice, db):
    schema = api_alice.get("/api/schema?format=json").json()
    assert {"/api/v1/quotas", "/api/v1/quotas/{namespace}", "/api/v1/queue"} <= set(schema["paths"])
    schemas = schema["components"]["schemas"]
    request = schemas["JobRequest"]["properties"]["priority"]
    enum_name = request["allOf"][0]["$ref"].rsplit("/", 1)[1]
    assert schemas[enum_name]["enum"] == ["high", "normal", "low"]
    assert request["default"] == "normal"
    job = schema["components"]["schemas"]["Job"]["properties"]
    assert "queuePosition" in job and "priority" in job
    assert "Queued" in schema["components"]["schemas"]["StatusEnum"]["enum"]
