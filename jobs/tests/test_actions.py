"""Run again (clone) and bulk actions, through the API and the pages: validated like a
create, tenancy on every route (an outsider's ids are "not found"), bounded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from jobs import services
from jobs.models import JobStatus, TrainingJob
from jobs.specs import merge_request, next_run_name
from jobs.tests.factories import MemberClusterFactory, TrainingJobFactory
from jobs.tests.test_api import assert_error, post_json, team_a_body


@pytest.fixture
def clusters(db):
    return [
        MemberClusterFactory(name="member-cluster-1"),
        MemberClusterFactory(name="member-cluster-2", no_gpu=True),
    ]


@pytest.fixture
def source(api_alice, clusters) -> dict[str, Any]:
    body = team_a_body(labels={"team": "vision"}, runPolicy={"backoffLimit": 2})
    response = post_json(api_alice, "/api/v1/jobs", body)
    assert response.status_code == 201, response.content
    return response.json()


def _comparable(job: dict[str, Any]) -> dict[str, Any]:
    keep = ("namespace", "framework", "algorithm", "resources", "hyperparameters")
    return {k: job[k] for k in (*keep, "targetClusters", "runPolicy", "labels")}


# --- names and merging --------------------------------------------------------------------


def test_run_names_count_up_and_stay_valid():
    assert next_run_name("train") == "train-2"
    assert next_run_name("train-2") == "train-3"
    assert next_run_name("train", {"train-2", "train-3"}) == "train-4"
    long = "a" * 50
    assert next_run_name(long) == "a" * 48 + "-2"
    assert next_run_name("x-9") == "x-10"


def test_changes_merge_objects_and_replace_the_rest():
    hp = "hyperparameters"
    base = {"a": {"b": 1, "c": 2}, "l": [1, 2], hp: {"xgboost": {"eta": 0.3}}}
    merged = merge_request(base, {"a": {"c": 3}, "l": [9], hp: {"xgboost": {"max_depth": 3}}})
    assert merged == {
        "a": {"b": 1, "c": 3},
        "l": [9],
        hp: {"xgboost": {"eta": 0.3, "max_depth": 3}},
    }
    assert merge_request(base, {"a": None}) == {"l": [1, 2], hp: {"xgboost": {"eta": 0.3}}}
    # Another framework's hyperparameters replace the old ones instead of sitting beside them.
    assert merge_request(base, {hp: {"pytorch": {}}})[hp] == {"pytorch": {}}


# --- clone API -------------------------------------------------------------------------------


def test_it_clones_a_job_with_its_spec(api_alice, source):
    response = post_json(api_alice, f"/api/v1/jobs/{source['id']}/clone", {})
    assert response.status_code == 201, response.content
    clone = response.json()
    assert clone["id"] != source["id"]
    assert clone["jobName"] == "xgboost-training-2"
    assert clone["status"] == "Pending"
    assert _comparable(clone) == _comparable(source)
    assert response["Location"] == f"/api/v1/jobs/{clone['id']}"
    # Again: the next free run number.
    again = api_alice.post(f"/api/v1/jobs/{source['id']}/clone")  # no body at all
    assert again.status_code == 201, again.content
    assert again.json()["jobName"] == "xgboost-training-3"


def test_it_clones_with_changes(api_alice, source):
    changes = {
        "jobName": "bigger",
        "resources": {"instanceCount": 3},
        "hyperparameters": {"xgboost": {"max_depth": 9}},
        "labels": None,
    }
    response = post_json(api_alice, f"/api/v1/jobs/{source['id']}/clone", changes)
    assert response.status_code == 201, response.content
    clone = response.json()
    assert clone["jobName"] == "bigger"
    assert clone["resources"]["instanceCount"] == 3
    assert clone["resources"]["instanceResources"] == source["resources"]["instanceResources"]
    assert clone["hyperparameters"]["xgboost"]["max_depth"] == 9
    assert clone["hyperparameters"]["xgboost"]["eta"] == source["hyperparameters"]["xgboost"]["eta"]
    assert clone["labels"] == {}


def test_a_bad_change_is_refused_like_a_create(api_alice, source):
    before = TrainingJob.objects.count()
    response = post_json(
        api_alice,
        f"/api/v1/jobs/{source['id']}/clone",
        {"resources": {"instanceResources": {"cpuCores": -1}}, "surprise": 1},
    )
    error = assert_error(response, 400, field="resources.instanceResources.cpuCores")
    assert "surprise" in error["fields"]
    assert TrainingJob.objects.count() == before  # nothing half-written
    assert_error(post_json(api_alice, f"/api/v1/jobs/{source['id']}/clone", [1]), 400)


def test_a_clone_into_a_namespace_without_grant_is_refused(api_alice, source):
    response = post_json(api_alice, f"/api/v1/jobs/{source['id']}/clone", {"namespace": "team-c"})
    assert_error(response, 403, field="namespace")


def test_clone_rejects_outsider(api_charlie, source):
    response = post_json(api_charlie, f"/api/v1/jobs/{source['id']}/clone", {"namespace": "team-c"})
    assert_error(response, 404)
    assert_error(post_json(api_charlie, "/api/v1/jobs/not-a-uuid/clone", {}), 404)


def test_a_custom_job_clones_with_its_image_and_command(api_alice, clusters):
    body = team_a_body(
        algorithm={
            "source": "custom",
            "algorithmName": "mine",
            "framework": "pytorch",
            "image": "registry.example.com/me/train:1",
            "command": ["python", "train.py"],
        },
        hyperparameters={"pytorch": {"lr_schedule": "x"}},
    )
    created = post_json(api_alice, "/api/v1/jobs", body)
    assert created.status_code == 201, created.content
    clone = post_json(api_alice, f"/api/v1/jobs/{created.json()['id']}/clone", {})
    assert clone.status_code == 201, clone.content
    assert clone.json()["algorithm"] == created.json()["algorithm"]
    assert clone.json()["hyperparameters"] == created.json()["hyperparameters"]


# --- run again page -----------------------------------------------------------------------


def test_run_again_fills_the_form(client, alice, source):
    client.force_login(alice)
    detail = client.get(reverse("jobs:detail", args=[source["id"]])).content.decode()
    link = f"{reverse('jobs:create')}?from={source['id']}"
    assert f'href="{link}"' in detail and "Run again" in detail
    page = client.get(link)
    assert page.status_code == 200
    form = page.context["form"]
    assert form["job_name"].value() == "xgboost-training-2"
    assert form["namespace"].value() == "team-a"
    assert form["framework"].value() == "xgboost"
    assert float(form["cpu_cores"].value()) == source["resources"]["instanceResources"]["cpuCores"]
    assert form["hp__max_depth"].value() == source["hyperparameters"]["xgboost"]["max_depth"]
    assert form["backoff_limit"].value() == 2
    assert json.loads(form["labels_json"].value()) == {"team": "vision"}
    assert "Run again: filled in from" in page.content.decode()


def test_run_again_rejects_outsider(client, charlie, source):
    client.force_login(charlie)
    assert client.get(f"{reverse('jobs:create')}?from={source['id']}").status_code == 404


# --- bulk ------------------------------------------------------------------------------------


def test_bulk_delete_reports_each_id(api_alice, alice, charlie):
    running = TrainingJobFactory(owner=alice, running=True)
    deleted = TrainingJobFactory(owner=alice, deleted=True)
    theirs = TrainingJobFactory(owner=charlie, namespace="team-c", running=True)
    ids = [str(running.id), str(deleted.id), str(theirs.id), "nope", str(running.id)]
    response = post_json(api_alice, "/api/v1/jobs/bulk", {"action": "delete", "ids": ids})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["action"] == "delete"
    results = {r["id"]: r for r in body["results"]}
    assert len(body["results"]) == 4  # the duplicate once
    assert results[str(running.id)]["result"] == "done"
    assert results[str(running.id)]["status"] == "Deleting"
    assert results[str(deleted.id)]["result"] == "refused"
    assert "already deleted" in results[str(deleted.id)]["message"]
    # Another team's job is indistinguishable from one that does not exist.
    assert results[str(theirs.id)] == {
        "id": str(theirs.id),
        "result": "notFound",
        "message": "Job not found.",
    }
    assert results["nope"]["result"] == "notFound"
    theirs.refresh_from_db()
    assert theirs.status == JobStatus.RUNNING


def test_bulk_resubmit(api_alice, alice):
    failed = TrainingJobFactory(owner=alice, status=JobStatus.SUBMIT_FAILED)
    running = TrainingJobFactory(owner=alice, running=True)
    response = post_json(
        api_alice,
        "/api/v1/jobs/bulk",
        {"action": "resubmit", "ids": [str(failed.id), str(running.id)]},
    )
    results = response.json()["results"]
    assert [r["result"] for r in results] == ["done", "refused"]
    assert results[0]["status"] == "Pending"
    assert "Only Pending or SubmitFailed" in results[1]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "explode", "ids": ["x"]}, "action"),
        ({"action": "delete", "ids": []}, "ids"),
        ({"action": "delete", "ids": [f"id-{i}" for i in range(services.BULK_MAX_IDS + 1)]}, "ids"),
        ({"action": "delete"}, "ids"),
        ({"ids": ["x"]}, "action"),
    ],
)
def test_bulk_refuses_bad_bodies(api_alice, body, field):
    assert_error(post_json(api_alice, "/api/v1/jobs/bulk", body), 400, field=field)


def test_bulk_needs_credentials(db):
    from rest_framework.test import APIClient

    assert APIClient().post("/api/v1/jobs/bulk", {}, format="json").status_code == 401


def test_the_list_page_acts_on_the_selected_jobs(client, alice, charlie):
    mine = TrainingJobFactory(owner=alice, running=True, name="pick-me")
    theirs = TrainingJobFactory(owner=charlie, namespace="team-c", running=True)
    client.force_login(alice)
    page = client.get(reverse("jobs:list")).content.decode()
    assert 'id="bulk-form"' in page
    assert f'value="{mine.pk}" form="bulk-form"' in page
    response = client.post(
        reverse("jobs:bulk"),
        {"action": "delete", "ids": [str(mine.pk), str(theirs.pk)], "next": "/?status=Running"},
    )
    assert response.status_code == 302 and response["Location"] == "/?status=Running"
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == JobStatus.DELETING
    assert theirs.status == JobStatus.RUNNING
    shown = [str(m) for m in client.get(reverse("jobs:list")).context["messages"]]
    assert any("Deleting 1 job" in m for m in shown)
    assert any("not found" in m for m in shown)
    # A redirect elsewhere is refused.
    off_site = client.post(
        reverse("jobs:bulk"), {"action": "delete", "next": "https://evil.example/"}
    )
    assert off_site["Location"] == reverse("jobs:list")
