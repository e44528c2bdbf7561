"""The queue page, the priority input of the create form, and queue positions on the
job pages: owner (alice), outsider (charlie), operator."""

from __future__ import annotations

import pytest

from clusters.models import MemberCluster
from jobs import services
from jobs.models import JobStatus, NamespaceQuota
from jobs.tests.test_queue import body

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def queued(alice):
    MemberCluster.objects.create(
        name="member-cluster-1",
        ready=True,
        cpu_allocatable=256,
        memory_allocatable_gib=1024,
        gpu_allocatable=8,
    )
    NamespaceQuota.objects.create(namespace="team-a", gpus=2)
    services.job_create(user=alice, data=body("running", gpus=2))
    waiting = services.job_create(user=alice, data=body("waiting", priority="high"))
    assert waiting.status == JobStatus.QUEUED
    return waiting


def test_it_requires_login(client, db):
    response = client.get("/queue")
    assert response.status_code == 302 and "/login" in response["Location"]


def test_it_shows_usage_bars_and_the_waiting_jobs(client, alice, queued):
    client.force_login(alice)
    page = client.get("/queue").content.decode()
    assert 'aria-current="page">Queue<' in page
    assert "team-a" in page and "2 of 2" in page
    assert 'aria-label="100% of the quota used"' in page
    assert "waiting" in page and "team-a uses 2 of 2 GPUs" in page
    assert "priority-high" in page


def test_the_poll_answers_204_while_nothing_changed(client, alice, queued):
    client.force_login(alice)
    first = client.get("/queue", **HTMX)
    assert first.status_code == 200
    version = first.content.decode().split("v=", 1)[1].split('"', 1)[0]
    assert client.get(f"/queue?v={version}", **HTMX).status_code == 204


def test_it_rejects_outsider(client, charlie, queued):
    client.force_login(charlie)
    page = client.get("/queue").content.decode()
    assert "team-a" not in page and "waiting" not in page
    assert client.get("/queue?namespace=team-a").status_code == 404


def test_operators_see_every_namespace(client, operator, queued):
    client.force_login(operator)
    page = client.get("/queue").content.decode()
    assert "team-a" in page and "waiting" in page


def test_list_and_detail_show_the_queue_position(client, alice, queued):
    client.force_login(alice)
    listing = client.get("/").content.decode()
    assert "#1 in team-a" in listing and "badge-queued" in listing
    detail = client.get(f"/jobs/{queued.pk}").content.decode()
    assert "Queue position" in detail and "team-a uses 2 of 2 GPUs" in detail


def test_the_create_form_offers_the_priorities(client, alice, queued):
    client.force_login(alice)
    page = client.get("/jobs/new").content.decode()
    assert 'name="priority"' in page
    for value in ("high", "normal", "low"):
        assert f'value="{value}"' in page


def test_the_create_form_sends_the_chosen_priority(client, alice, queued):
    from jobs.models import TrainingJob
    from jobs.tests.test_views import valid_post

    client.force_login(alice)
    data = valid_post(job_name="from-form", priority="low", namespace="team-a")
    response = client.post("/jobs/new", data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert TrainingJob.objects.get(name="from-form").priority == "low"


def test_operators_set_a_quota_in_the_admin_and_it_admits_at_once(client, operator, queued):
    client.force_login(operator)
    quota = NamespaceQuota.objects.get(namespace="team-a")
    url = f"/admin/jobs/namespacequota/{quota.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "namespace": "team-a",
            "gpus": "3",
            "cpu_cores": "",
            "memory_gib": "",
            "running_jobs": "",
            "priorities": '["high", "normal"]',
            "clusters": "null",
        },
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    quota.refresh_from_db()
    assert quota.gpus == 3 and quota.priorities == ["high", "normal"]
    queued.refresh_from_db()
    assert queued.status == JobStatus.PENDING


def test_the_admin_refuses_an_unknown_priority(client, operator, queued):
    client.force_login(operator)
    quota = NamespaceQuota.objects.get(namespace="team-a")
    response = client.post(
        f"/admin/jobs/namespacequota/{quota.pk}/change/",
        {"namespace": "team-a", "gpus": "3", "priorities": '["urgent"]', "clusters": "null"},
    )
    assert response.status_code == 200 and "Unknown priority urgent" in response.content.decode()


def test_staff_without_the_operator_permission_see_no_quota_admin(client, dave, queued):
    client.force_login(dave)
    assert client.get("/admin/jobs/namespacequota/").status_code == 403
