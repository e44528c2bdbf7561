"""System namespaces (setting SYSTEM_NAMESPACES) are refused for jobs and for grants, with
the rule that matched named in the answer."""

from __future__ import annotations

import copy
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from jobs.api.views import README_EXAMPLE
from jobs.models import NamespaceGrant, TrainingJob
from jobs.namespaces import system_namespace_rule
from jobs.tests.factories import MemberClusterFactory


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("kube-system", "kube-*"),
        ("kube-public", "kube-*"),
        ("karmada-system", "karmada-*"),
        ("karmada-es-member-cluster-1", "karmada-*"),
        ("kubeflow", "kubeflow"),
        ("mpi-operator", "mpi-operator"),
        ("ml-platform", "ml-platform"),
        ("mlplatform", "mlplatform"),
    ],
)
def test_the_default_rules(name, pattern):
    assert system_namespace_rule(name) == pattern


@pytest.mark.parametrize("name", ["default", "team-a", "kubeflow-user", "my-kube-system", "kube"])
def test_the_whole_name_must_match(name):
    assert system_namespace_rule(name) is None


def test_the_rules_are_configurable(settings):
    settings.SYSTEM_NAMESPACES = ["infra-*"]
    assert system_namespace_rule("infra-monitoring") == "infra-*"
    assert system_namespace_rule("kube-system") is None


@pytest.fixture
def fleet(db):
    return [MemberClusterFactory(name="member-cluster-1")]


@pytest.mark.parametrize(
    ("namespace", "pattern"), [("kube-system", "kube-*"), ("kubeflow", "kubeflow")]
)
def test_api_refuses_a_job_in_a_system_namespace(api_operator, fleet, namespace, pattern):
    body = copy.deepcopy(README_EXAMPLE)
    body["namespace"] = namespace
    response = api_operator.post("/api/v1/jobs", json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content
    fields = response.json()["error"]["fields"]
    assert fields == {
        "namespace": [
            f"'{namespace}' is a system namespace (matches '{pattern}'); jobs may not run there."
        ]
    }
    assert not TrainingJob.objects.exists()


def test_api_refuses_it_even_with_a_grant(make_user, fleet):
    from mlplatform.testing import token_client as _api_client

    # A grant made before the namespace became a system one.
    user = make_user("frank")
    NamespaceGrant.objects.create(user=user, namespace="kube-system")
    body = {**copy.deepcopy(README_EXAMPLE), "namespace": "kube-system"}
    response = _api_client(user).post(
        "/api/v1/jobs", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert "kube-*" in response.json()["error"]["fields"]["namespace"][0]


def test_the_default_namespace_stays_allowed(api_operator, fleet):
    response = api_operator.post(
        "/api/v1/jobs", json.dumps(README_EXAMPLE), content_type="application/json"
    )
    assert response.status_code == 201, response.content


def test_the_create_page_shows_the_rule(client, operator, fleet):
    client.force_login(operator)
    data = {
        "job_name": "xgb",
        "namespace": "karmada-system",
        "framework": "xgboost",
        "algorithm_source": "default",
        "cpu_cores": "1",
        "memory_gib": "1",
        "gpu_count": "0",
        "instance_count": "1",
        "volume_size_gb": "0",
        "target_clusters": ["member-cluster-1"],
        "hp__num_round": "50",
    }
    body = client.post(reverse("jobs:create"), data).content.decode()
    assert "is a system namespace (matches &#x27;karmada-*&#x27;)" in body
    assert not TrainingJob.objects.exists()


def test_a_grant_of_a_system_namespace_is_invalid(alice):
    grant = NamespaceGrant(user=alice, namespace="kube-system")
    with pytest.raises(ValidationError) as err:
        grant.full_clean()
    assert err.value.message_dict["namespace"] == [
        "'kube-system' is a system namespace (matches 'kube-*'); it cannot be granted."
    ]


def test_admin_refuses_the_grant(client, root, alice):
    client.force_login(root)
    response = client.post(
        reverse("admin:jobs_namespacegrant_add"), {"namespace": "karmada-system", "user": alice.pk}
    )
    assert response.status_code == 200  # the form again, with the error
    assert "is a system namespace (matches &#x27;karmada-*&#x27;)" in response.content.decode()
    assert not NamespaceGrant.objects.filter(namespace="karmada-system").exists()


def test_admin_user_page_refuses_the_grant_inline(client, root, alice):
    client.force_login(root)
    url = reverse("admin:auth_user_change", args=[alice.pk])
    page = client.get(url)
    assert page.status_code == 200
    data = {
        "username": "alice",
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
        "namespace_grants-TOTAL_FORMS": "2",
        "namespace_grants-INITIAL_FORMS": "1",
        "namespace_grants-0-id": str(alice.namespace_grants.get().pk),
        "namespace_grants-0-user": str(alice.pk),
        "namespace_grants-0-namespace": "team-a",
        "namespace_grants-1-user": str(alice.pk),
        "namespace_grants-1-namespace": "kube-system",
    }
    response = client.post(url, data)
    assert "is a system namespace (matches &#x27;kube-*&#x27;)" in response.content.decode()
    assert not NamespaceGrant.objects.filter(namespace="kube-system").exists()


def test_ensure_admin_refuses_a_system_namespace(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    with pytest.raises(CommandError, match="kube-system' is a system namespace"):
        call_command("ensure_admin", namespace="kube-system")
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.exists()


def test_ensure_admin_creates_a_superuser(db, settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    call_command("ensure_admin")
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert NamespaceGrant.objects.filter(user=admin, namespace="default").exists()
    assert "login: admin / " in capsys.readouterr().out
