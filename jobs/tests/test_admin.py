"""The operator's admin: jobs are read-only, and actions go through the same services as
the API and the pages."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from jobs.models import JobEvent, JobStatus, NamespaceGrant, TrainingJob
from jobs.tests.factories import JobEventFactory, MemberClusterFactory, TrainingJobFactory

CHANGELIST = "admin:jobs_trainingjob_changelist"


@pytest.fixture
def admin_client(client, root):
    client.force_login(root)
    return client


def _act(client, action: str, *jobs: TrainingJob):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, ACTION_CHECKBOX_NAME: [str(j.pk) for j in jobs]},
        follow=True,
    )


def test_changelist_lists_filters_and_searches(admin_client):
    TrainingJobFactory(name="alpha-run", running=True)
    TrainingJobFactory(name="beta-run", succeeded=True)
    body = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "alpha-run" in body and "beta-run" in body
    body = admin_client.get(reverse(CHANGELIST), {"status__exact": "Running"}).content.decode()
    assert "alpha-run" in body and "beta-run" not in body
    body = admin_client.get(reverse(CHANGELIST), {"q": "beta"}).content.decode()
    assert "beta-run" in body and "alpha-run" not in body


def test_change_page_shows_json_manifests_and_readonly_history(admin_client):
    job = TrainingJobFactory(
        running=True,
        manifests=[
            {"apiVersion": "kubeflow.org/v1", "kind": "XGBoostJob", "metadata": {"name": "x"}}
        ],
    )
    JobEventFactory(job=job, reason="Created", message="Accepted.")
    response = admin_client.get(reverse("admin:jobs_trainingjob_change", args=[job.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "&quot;num_round&quot;: 100" in body
    assert "kind: XGBoostJob" in body
    assert "Accepted." in body
    # View-only: no editable job fields, no Save, and no way to add history by hand.
    assert 'name="status"' not in body
    assert 'name="_save"' not in body
    assert 'name="events-0-reason"' not in body


def test_jobs_cannot_be_added_or_bulk_deleted_as_rows(admin_client):
    TrainingJobFactory()  # the action menu only shows over a non-empty list
    assert admin_client.get(reverse("admin:jobs_trainingjob_add")).status_code == 403
    body = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert 'value="delete_selected"' not in body
    assert 'value="delete_on_karmada"' in body and 'value="resubmit"' in body


def test_a_running_job_row_cannot_be_purged(admin_client):
    job = TrainingJobFactory(running=True)
    response = admin_client.get(reverse("admin:jobs_trainingjob_delete", args=[job.pk]))
    assert response.status_code == 403
    gone = TrainingJobFactory(deleted=True)
    response = admin_client.get(reverse("admin:jobs_trainingjob_delete", args=[gone.pk]))
    assert response.status_code == 200


def test_delete_action_goes_through_the_service(admin_client):
    running = TrainingJobFactory(running=True)
    already = TrainingJobFactory(status=JobStatus.DELETING)
    response = _act(admin_client, "delete_on_karmada", running, already)
    body = response.content.decode()
    running.refresh_from_db()
    assert running.status == JobStatus.DELETING
    assert JobEvent.objects.filter(job=running, reason="DeleteRequested").exists()
    assert "1 job being deleted from Karmada." in body
    assert f"Job {already}: The job is already deleting." in body


def test_resubmit_action_goes_through_the_service(admin_client):
    failed = TrainingJobFactory(submit_failed=True)
    running = TrainingJobFactory(running=True)
    body = _act(admin_client, "resubmit", failed, running).content.decode()
    failed.refresh_from_db()
    running.refresh_from_db()
    assert failed.status == JobStatus.PENDING
    assert JobEvent.objects.filter(job=failed, reason="Resubmitted").exists()
    assert running.status == JobStatus.RUNNING
    assert "1 job resubmitted." in body
    assert "Only Pending or SubmitFailed jobs can be resubmitted" in body


def test_history_is_read_only(admin_client):
    event = JobEventFactory()
    assert admin_client.get(reverse("admin:jobs_jobevent_changelist")).status_code == 200
    response = admin_client.get(reverse("admin:jobs_jobevent_change", args=[event.pk]))
    assert response.status_code == 200
    assert 'name="reason"' not in response.content.decode()
    assert admin_client.get(reverse("admin:jobs_jobevent_add")).status_code == 403


def test_namespace_grants_are_managed(admin_client, alice):
    assert admin_client.get(reverse("admin:jobs_namespacegrant_changelist")).status_code == 200
    response = admin_client.post(
        reverse("admin:jobs_namespacegrant_add"), {"namespace": "team-z", "user": alice.pk}
    )
    assert response.status_code == 302
    assert NamespaceGrant.objects.filter(user=alice, namespace="team-z").exists()


def test_user_page_edits_the_users_namespaces(admin_client, alice):
    response = admin_client.get(reverse("admin:auth_user_change", args=[alice.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "team-a" in body and "namespace_grants-0-namespace" in body


def test_clusters_are_read_only(admin_client):
    cluster = MemberClusterFactory(name="member-cluster-1", cpu_allocated=8)
    body = admin_client.get(reverse("admin:clusters_membercluster_changelist")).content.decode()
    assert "member-cluster-1" in body and "8 / 64" in body
    response = admin_client.get(reverse("admin:clusters_membercluster_change", args=[cluster.pk]))
    assert response.status_code == 200
    assert 'name="cpu_allocatable"' not in response.content.decode()
    assert 'name="_save"' not in response.content.decode()
    assert admin_client.get(reverse("admin:clusters_membercluster_add")).status_code == 403


def test_non_staff_cannot_use_the_admin(client, alice):
    client.force_login(alice)
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
