"""Roles, not flags: every namespace is the operators' permission; ``is_staff`` is only the
admin login. Checked through the API, the pages and the admin, for the operator (in the
"Platform operators" group), a staff user without the permission (dave, granted team-c
only), the outsider (charlie, team-c) and the superuser."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from jobs.models import JobStatus, NamespaceGrant, TrainingJob
from jobs.roles import OPERATE_ALL_NAMESPACES, OPERATORS_GROUP, is_platform_operator
from jobs.selectors import job_list, user_can_use_namespace, visible_namespaces
from jobs.tests.factories import JobEventFactory, MemberClusterFactory, TrainingJobFactory

API_JOB_ROUTES = [
    ("get", ""),
    ("get", "/status"),
    ("get", "/pods"),
    ("get", "/pods/some-pod/log"),
    ("delete", ""),
    ("post", "/resubmit"),
]
PAGES = ["detail", "status", "pods", "delete", "resubmit"]


@pytest.fixture
def alice_job(alice):
    # No cluster yet: the pods routes answer without asking a member cluster.
    job = TrainingJobFactory(owner=alice, namespace="team-a", status=JobStatus.PENDING)
    TrainingJob.objects.filter(pk=job.pk).update(cluster="")
    job.refresh_from_db()
    JobEventFactory(job=job)
    return job


@pytest.fixture
def dave_job(dave):
    return TrainingJobFactory(owner=dave, namespace="team-c", name="dave-own")


# --- the rule -------------------------------------------------------------------------


def test_the_migration_created_the_operators_group(db):
    group = Group.objects.get(name=OPERATORS_GROUP)
    codenames = set(group.permissions.values_list("codename", flat=True))
    assert "operate_all_namespaces" in codenames
    assert {"view_trainingjob", "view_namespacegrant", "view_membercluster"} <= codenames


def test_staff_alone_is_not_an_operator(dave, operator, root, alice):
    assert dave.is_staff and not is_platform_operator(dave)
    assert visible_namespaces(user=dave) == {"team-c"}
    assert not user_can_use_namespace(user=dave, namespace="team-a")
    assert is_platform_operator(operator) and not operator.is_superuser
    assert operator.has_perm(OPERATE_ALL_NAMESPACES)
    assert visible_namespaces(user=operator) is None
    # Superusers hold every permission by Django's rules.
    assert visible_namespaces(user=root) is None
    assert visible_namespaces(user=alice) == {"team-a"}


def test_an_inactive_operator_sees_nothing(operator, alice_job):
    operator.is_active = False
    operator.save()
    assert not is_platform_operator(operator)
    assert not job_list(user=operator).exists()


def test_the_permission_granted_directly_works_too(make_user, alice_job):
    from django.contrib.auth.models import Permission

    user = make_user("erin")
    user.user_permissions.add(Permission.objects.get(codename="operate_all_namespaces"))
    assert list(job_list(user=user)) == [alice_job]


def test_the_rule_agrees_with_djangos_permissions_in_one_query(
    make_user, operator, root, django_assert_num_queries
):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    plain = make_user("frank", namespaces=("team-a",))
    for user in (plain, operator, root):
        fresh = User.objects.get(pk=user.pk)  # nothing remembered from earlier calls
        expected = User.objects.get(pk=user.pk).has_perm(OPERATE_ALL_NAMESPACES)
        with django_assert_num_queries(0 if fresh.is_superuser else 1):
            assert is_platform_operator(fresh) is expected
            # Asked again in the same request: answered from the user object.
            assert is_platform_operator(fresh) is expected


def test_what_a_user_sees_is_read_in_one_query_with_the_operator_permission(
    make_user, operator, django_assert_num_queries
):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    plain = make_user("grace", namespaces=("team-a",))
    grouped = Group.objects.create(name="vision")
    NamespaceGrant.objects.create(group=grouped, namespace="team-b")
    plain.groups.add(grouped)
    NamespaceGrant.objects.create(user=operator, namespace="team-z")  # moot for an operator
    nobody = make_user("heidi", namespaces=())
    cases = [(plain, {"team-a", "team-b"}, False), (operator, None, True), (nobody, set(), False)]
    for user, seen, is_operator in cases:
        fresh = User.objects.get(pk=user.pk)
        with django_assert_num_queries(1):
            assert visible_namespaces(user=fresh) == seen
            # The permission came with it: asking the role again costs nothing.
            assert is_platform_operator(fresh) is is_operator
        with django_assert_num_queries(0 if is_operator else 1):
            assert visible_namespaces(user=fresh) == seen


# --- API ------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "suffix"), API_JOB_ROUTES)
@pytest.mark.parametrize("who", ["api_dave", "api_charlie"])
def test_api_rejects_staff_without_permission_and_outsider(request, alice_job, who, method, suffix):
    client = request.getfixturevalue(who)
    response = getattr(client, method)(f"/api/v1/jobs/{alice_job.id}{suffix}")
    assert response.status_code == 404, response.content
    assert set(response.json()) == {"error"}
    alice_job.refresh_from_db()
    assert alice_job.status == JobStatus.PENDING


def test_api_list_shows_staff_only_its_grants(api_dave, alice_job, dave_job):
    ids = {job["id"] for job in api_dave.get("/api/v1/jobs").json()["results"]}
    assert ids == {str(dave_job.id)}


def test_api_create_refuses_staff_outside_its_grants(api_dave):
    MemberClusterFactory(name="member-cluster-1")
    body = {
        "jobName": "x",
        "namespace": "team-a",
        "algorithm": {"source": "default", "algorithmName": "xgboost"},
        "resources": {"instanceResources": {"cpuCores": 1, "memoryGiB": 1}, "instanceCount": 1},
        "hyperparameters": {"xgboost": {"num_round": 10}},
    }
    response = api_dave.post("/api/v1/jobs", json.dumps(body), content_type="application/json")
    assert response.status_code == 403
    assert "namespace" in response.json()["error"]["fields"]
    assert not TrainingJob.objects.exists()


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("get", "/status"), ("get", "/pods")])
def test_api_operator_sees_every_namespace(api_operator, alice_job, method, suffix):
    response = getattr(api_operator, method)(f"/api/v1/jobs/{alice_job.id}{suffix}")
    assert response.status_code == 200, response.content


def test_api_operator_lists_and_deletes_any_job(api_operator, alice_job, dave_job):
    ids = {job["id"] for job in api_operator.get("/api/v1/jobs").json()["results"]}
    assert ids == {str(alice_job.id), str(dave_job.id)}
    assert api_operator.delete(f"/api/v1/jobs/{alice_job.id}").status_code == 202


# --- pages ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("who", ["dave", "charlie"])
def test_pages_reject_staff_without_permission_and_outsider(request, client, alice_job, who, name):
    client.force_login(request.getfixturevalue(who))
    url = reverse(f"jobs:{name}", args=[alice_job.pk])
    assert client.get(url).status_code in (404, 405)
    assert client.post(url).status_code in (404, 405)
    log_url = reverse("jobs:pod-log", args=[alice_job.pk, "some-pod"])
    assert client.get(log_url).status_code == 404
    alice_job.refresh_from_db()
    assert alice_job.status == JobStatus.PENDING


def test_job_list_page_shows_staff_only_its_grants(client, dave, alice_job, dave_job):
    client.force_login(dave)
    body = client.get(reverse("jobs:list")).content.decode()
    assert "dave-own" in body and alice_job.name not in body


@pytest.mark.parametrize("name", ["detail", "status", "pods"])
def test_pages_show_operator_every_namespace(client, operator, alice_job, name):
    client.force_login(operator)
    assert client.get(reverse(f"jobs:{name}", args=[alice_job.pk])).status_code == 200


# --- admin ----------------------------------------------------------------------------


def test_admin_shows_staff_only_its_namespaces(client, dave, alice_job, dave_job):
    # dave may use the admin for jobs, but only sees what his grants show him.
    dave.groups.add(_admin_viewers())
    client.force_login(dave)
    body = client.get(reverse("admin:jobs_trainingjob_changelist")).content.decode()
    assert "dave-own" in body and alice_job.name not in body
    change = reverse("admin:jobs_trainingjob_change", args=[alice_job.pk])
    # Django's admin answers an object outside the queryset with a redirect and a message.
    response = client.get(change)
    assert response.status_code == 302 and alice_job.name not in response.content.decode()
    history = client.get(reverse("admin:jobs_jobevent_changelist")).content.decode()
    assert alice_job.name not in history
    grants = client.get(reverse("admin:jobs_namespacegrant_changelist")).content.decode()
    assert "team-c" in grants and "team-a" not in grants


def test_admin_actions_cannot_reach_jobs_outside_the_grants(client, dave, alice_job):
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

    dave.groups.add(_admin_viewers())
    client.force_login(dave)
    client.post(
        reverse("admin:jobs_trainingjob_changelist"),
        {"action": "delete_on_karmada", ACTION_CHECKBOX_NAME: [str(alice_job.pk)]},
    )
    alice_job.refresh_from_db()
    assert alice_job.status == JobStatus.PENDING


def test_admin_grants_are_the_operators_to_hand_out(client, dave):
    dave.groups.add(_admin_viewers())
    client.force_login(dave)
    response = client.post(
        reverse("admin:jobs_namespacegrant_add"), {"namespace": "team-a", "user": dave.pk}
    )
    assert response.status_code == 403
    assert not NamespaceGrant.objects.filter(user=dave, namespace="team-a").exists()


def test_admin_shows_operator_everything(client, operator, alice_job, dave_job):
    client.force_login(operator)
    body = client.get(reverse("admin:jobs_trainingjob_changelist")).content.decode()
    assert "dave-own" in body and alice_job.name in body
    change = reverse("admin:jobs_trainingjob_change", args=[alice_job.pk])
    assert client.get(change).status_code == 200
    response = client.post(
        reverse("admin:jobs_namespacegrant_add"), {"namespace": "team-z", "user": operator.pk}
    )
    assert response.status_code == 302
    assert NamespaceGrant.objects.filter(user=operator, namespace="team-z").exists()


def test_admin_refuses_users_who_are_not_staff(client, alice):
    client.force_login(alice)
    response = client.get(reverse("admin:jobs_trainingjob_changelist"))
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]


def _admin_viewers() -> Group:
    """Admin rights on the job models, without the operator permission."""
    from django.contrib.auth.models import Permission

    group = Group.objects.create(name="job viewers")
    group.permissions.add(
        *Permission.objects.filter(
            codename__in=[
                "view_trainingjob",
                "change_trainingjob",
                "view_jobevent",
                "view_namespacegrant",
                "add_namespacegrant",
            ]
        )
    )
    return group
