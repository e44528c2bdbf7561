"""/metrics: who may read it, and what the worker's observations add up to there. Real
PostgreSQL and Redis."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from jobs import tasks
from jobs.tests.test_services import body
from mlplatform import metrics

pytestmark = pytest.mark.django_db


def _sample(text: str, name: str, **labels: str) -> float:
    label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}(?:\{{{re.escape(label_text)}\}})? (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"{name}{{{label_text}}} not in:\n{text[:3000]}"
    return float(match.group(1))


@pytest.fixture
def scrape(settings):
    settings.METRICS_TOKEN = "s3cret-token"

    def get() -> str:
        response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain")
        return response.content.decode()

    return get


def test_it_refuses_anonymous_with_401_and_a_wrong_token_with_403(settings):
    settings.METRICS_TOKEN = "s3cret-token"
    anonymous = Client().get("/metrics")
    assert anonymous.status_code == 401
    assert "METRICS_TOKEN" in anonymous.json()["error"]["message"]
    wrong = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 403


def test_it_refuses_a_token_when_none_is_configured(settings):
    settings.METRICS_TOKEN = None
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_it_refuses_signed_in_users_who_are_not_operators(alice):
    client = Client()
    client.force_login(alice)
    assert client.get("/metrics").status_code == 403


def test_operators_read_it_signed_in(django_user_model):
    root = django_user_model.objects.create_superuser("root", password="root-pass-123")
    client = Client()
    client.force_login(root)
    assert client.get("/metrics").status_code == 200


def test_jobs_by_status_come_from_the_database(alice, fleet, scrape):
    from jobs import services

    before = _sample(scrape(), "mlplatform_jobs", status="Pending")
    services.job_create(user=alice, data=body())
    assert _sample(scrape(), "mlplatform_jobs", status="Pending") == before + 1
    assert _sample(scrape(), "mlplatform_jobs", status="Failed") >= 0


def test_a_sync_pass_in_the_worker_is_counted_where_the_web_reads_it(scrape, settings):
    before = _sample(scrape(), "mlplatform_status_sync_seconds_count")
    tasks.job_status_sync_task.apply()  # nothing active: a quick pass, still one pass
    text = scrape()
    assert _sample(text, "mlplatform_status_sync_seconds_count") == before + 1
    assert _sample(text, "mlplatform_status_sync_seconds_bucket", le="+Inf") >= before + 1
    assert _sample(text, "mlplatform_celery_queue_length", queue="celery") >= 0


def test_karmada_errors_are_counted_by_kind_of_call(scrape, settings, tmp_path):
    from clusters.client import ClusterError, KarmadaClient

    config = tmp_path / "karmada.yaml"
    config.write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: k\n  cluster:\n"
        "    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: true\n"
        "contexts:\n- name: k\n  context: {cluster: k, user: u}\ncurrent-context: k\n"
        "users:\n- name: u\n  user: {token: t}\n"
    )
    client = KarmadaClient(str(config), timeout=(1.0, 1.0))
    with pytest.raises(ClusterError):
        client.list_clusters()
    assert (
        _sample(
            scrape(), "mlplatform_karmada_errors_total", call="list clusters.cluster.karmada.io"
        )
        >= 1
    )


def test_recording_without_redis_is_a_no_op(settings):
    settings.REDIS_URL = None
    metrics._redis_client = None
    try:
        metrics.observe("status_sync_seconds", 0.1)
        metrics.count("karmada_errors", "x")
    finally:
        metrics._redis_client = None


def test_queued_jobs_are_counted_per_namespace(alice, fleet, scrape):
    from jobs import services
    from jobs.models import NamespaceQuota

    NamespaceQuota.objects.create(namespace="team-a", running_jobs=1)
    services.job_create(user=alice, data=body())
    services.job_create(user=alice, data=body())
    services.job_create(user=alice, data=body())
    text = scrape()
    assert _sample(text, "mlplatform_queued_jobs", namespace="team-a") == 2
    assert _sample(text, "mlplatform_jobs", status="Queued") == 2
