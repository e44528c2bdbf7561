"""Webhooks: registration through the API and the page (validation, SSRF rules, tenancy),
signed deliveries to a real receiver on loopback with retries, and end to end with the real
worker: a job on the testbed finishes, the receiver is told, after a failure first."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.urls import reverse

from jobs.models import JobStatus, TrainingJob
from jobs.tests.factories import TrainingJobFactory
from jobs.tests.test_api import assert_error, post_json
from testbed.polling import wait_for
from webhooks import services
from webhooks.models import DeliveryState, Webhook, WebhookDelivery
from webhooks.tests.receiver import receiver

SECRET = "a-very-long-shared-secret"


def _hook_body(**changes):
    body = {
        "url": "https://hooks.example.com/ml",
        "secret": SECRET,
        "namespace": "team-a",
        "statuses": ["Succeeded", "Failed"],
    }
    body.update(changes)
    return body


@pytest.fixture
def public_dns(monkeypatch):
    """hooks.example.com resolves to a public address, whatever this machine's DNS says."""
    import socket

    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "hooks.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


# --- registering ----------------------------------------------------------------------------


def test_it_registers_and_lists_a_webhook(api_alice, public_dns):
    response = post_json(api_alice, "/api/v1/webhooks", _hook_body())
    assert response.status_code == 201, response.content
    hook = response.json()
    assert hook["url"] == "https://hooks.example.com/ml"
    assert hook["namespace"] == "team-a"
    assert hook["statuses"] == ["Failed", "Succeeded"]
    assert "secret" not in hook  # never shown again
    listed = api_alice.get("/api/v1/webhooks").json()
    assert [h["id"] for h in listed] == [hook["id"]]
    assert listed[0]["lastDelivery"] is None


def test_statuses_default_to_the_final_ones(api_alice, public_dns):
    body = _hook_body()
    del body["statuses"]
    hook = post_json(api_alice, "/api/v1/webhooks", body).json()
    assert hook["statuses"] == ["Deleted", "Failed", "SubmitFailed", "Succeeded"]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://hooks.example.com/x", "Only http:// and https://"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[fe80::1]/x", "link-local"),
        ("http://127.0.0.1:8000/x", "loopback"),
        ("http://localhost/x", "loopback"),
        ("http://10.1.2.3/x", "private"),
        ("http://[::ffff:169.254.169.254]/x", "link-local"),
        ("http://user:pw@hooks.example.com/x", "Credentials"),
        ("http://0.0.0.0/x", "special"),
        ("http://no-such-host.invalid/x", "does not resolve"),
    ],
)
def test_it_refuses_unsafe_urls(api_alice, public_dns, url, why):
    error = assert_error(post_json(api_alice, "/api/v1/webhooks", _hook_body(url=url)), 400)
    assert why in error["fields"]["url"][0]
    assert not Webhook.objects.exists()


def test_loopback_and_private_are_allowed_when_the_operators_say_so(api_alice, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    assert (
        post_json(api_alice, "/api/v1/webhooks", _hook_body(url="http://127.0.0.1:9/")).status_code
        == 201
    )
    settings.WEBHOOK_ALLOW_PRIVATE = True
    assert (
        post_json(api_alice, "/api/v1/webhooks", _hook_body(url="http://10.0.0.5/")).status_code
        == 201
    )
    # Link-local stays refused: that is where cloud metadata lives.
    refused = post_json(api_alice, "/api/v1/webhooks", _hook_body(url="http://169.254.169.254/"))
    assert_error(refused, 400, field="url")
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.internal"]
    named = post_json(api_alice, "/api/v1/webhooks", _hook_body(url="http://hooks.internal/x"))
    assert named.status_code == 201


def test_it_names_every_bad_field(api_alice, public_dns):
    response = post_json(
        api_alice,
        "/api/v1/webhooks",
        {
            "url": "https://hooks.example.com/",
            "secret": "short",
            "namespace": "team-a",
            "statuses": ["Nope"],
            "x": 1,
        },
    )
    error = assert_error(response, 400)
    assert set(error["fields"]) == {"secret", "statuses", "x"}
    missing = assert_error(post_json(api_alice, "/api/v1/webhooks", {"namespace": "team-a"}), 400)
    assert "url" in missing["fields"]
    assert_error(
        post_json(api_alice, "/api/v1/webhooks", {"url": "https://hooks.example.com/"}),
        400,
        field="namespace",
    )


def test_an_email_only_webhook_needs_no_secret(api_alice):
    response = post_json(
        api_alice, "/api/v1/webhooks", {"email": "alice@example.com", "namespace": "team-a"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["url"] == "" and response.json()["email"] == "alice@example.com"


def test_it_refuses_a_namespace_without_grant(api_charlie, public_dns):
    assert_error(post_json(api_charlie, "/api/v1/webhooks", _hook_body()), 403, field="namespace")


def test_webhooks_are_their_owners_only(api_alice, api_bob, api_charlie, public_dns):
    hook = post_json(api_alice, "/api/v1/webhooks", _hook_body()).json()
    # Bob shares the namespace, not the webhook.
    assert api_bob.get("/api/v1/webhooks").json() == []
    assert_error(api_bob.delete(f"/api/v1/webhooks/{hook['id']}"), 404)
    assert_error(api_charlie.delete(f"/api/v1/webhooks/{hook['id']}"), 404)
    assert_error(api_alice.delete("/api/v1/webhooks/not-a-number"), 404)
    assert api_alice.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 204
    assert not Webhook.objects.exists()


def test_the_api_needs_credentials(db):
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/webhooks").status_code == 401
    assert APIClient().post("/api/v1/webhooks", {}, format="json").status_code == 401


# --- the page -------------------------------------------------------------------------------


def test_the_page_adds_and_removes_webhooks(client, alice, bob, public_dns):
    client.force_login(alice)
    page = client.get(reverse("webhooks:list"))
    assert page.status_code == 200
    assert 'href="/webhooks/"' in page.content.decode()  # in the nav
    added = client.post(
        reverse("webhooks:list"),
        {
            "namespace": "team-a",
            "url": "https://hooks.example.com/ml",
            "secret": SECRET,
            "statuses": ["Failed"],
        },
    )
    assert added.status_code == 302
    hook = Webhook.objects.get()
    assert hook.statuses == ["Failed"] and hook.owner == alice
    assert "https://hooks.example.com/ml" in client.get(reverse("webhooks:list")).content.decode()
    # A refused URL is shown with its reason, through HTMX as a fragment.
    bad = client.post(
        reverse("webhooks:list"),
        {"namespace": "team-a", "url": "http://169.254.169.254/", "secret": SECRET},
        HTTP_HX_REQUEST="true",
    )
    assert bad.status_code == 200 and "<html" not in bad.content.decode()
    assert "link-local" in bad.content.decode()
    # Someone else cannot remove it; the owner can.
    other = client.__class__()
    other.force_login(bob)
    assert other.post(reverse("webhooks:delete", args=[hook.pk])).status_code == 404
    assert client.post(reverse("webhooks:delete", args=[hook.pk])).status_code == 302
    assert not Webhook.objects.exists()


# --- delivering (a real receiver, no worker) ---------------------------------------------


def test_a_delivery_is_signed_and_retried_until_it_succeeds(alice, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    job = TrainingJobFactory(owner=alice, status=JobStatus.FAILED, cluster="member-cluster-1")
    with receiver([500, 204]) as rx:
        Webhook.objects.create(
            owner=alice, namespace="team-a", url=rx.url, secret=SECRET, statuses=["Failed"]
        )
        [delivery_id] = services.webhook_dispatch(
            job_id=str(job.id), status="Failed", reason="BackoffLimitExceeded", message="boom"
        )
        first = services.webhook_deliver(delivery_id=delivery_id)
        assert first.state == DeliveryState.PENDING and first.retry_in is not None
        delivery = WebhookDelivery.objects.get(pk=delivery_id)
        assert (delivery.attempts, delivery.response_code, delivery.last_error) == (
            1,
            500,
            "HTTP 500",
        )
        second = services.webhook_deliver(delivery_id=delivery_id)
        assert second.state == DeliveryState.DELIVERED
        # Delivered: running it again sends nothing.
        assert services.webhook_deliver(delivery_id=delivery_id).state == DeliveryState.DELIVERED
    assert len(rx.requests) == 2
    assert rx.requests[0].body == rx.requests[1].body  # a retry sends the same bytes
    got = rx.requests[1]
    expected = "sha256=" + hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["x-mlplatform-signature"] == expected
    assert got.headers["content-type"] == "application/json"
    payload = json.loads(got.body)
    assert payload["id"] == str(job.id) and payload["name"] == job.name
    assert (payload["namespace"], payload["status"], payload["reason"]) == (
        "team-a",
        "Failed",
        "BackoffLimitExceeded",
    )
    assert payload["failureSummary"] is None
    assert payload["url"] == f"{settings.PUBLIC_BASE_URL}/jobs/{job.id}"
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.response_code) == ("delivered", 2, 204)


def test_a_delivery_gives_up_after_its_attempts(alice, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    job = TrainingJobFactory(owner=alice, status=JobStatus.SUCCEEDED)
    with receiver([503]) as rx:
        Webhook.objects.create(
            owner=alice, namespace="team-a", url=rx.url, secret=SECRET, statuses=["Succeeded"]
        )
        [delivery_id] = services.webhook_dispatch(
            job_id=str(job.id), status="Succeeded", reason="", message=""
        )
        services.webhook_deliver(delivery_id=delivery_id)
        assert services.webhook_deliver(delivery_id=delivery_id).state == DeliveryState.FAILED
    assert len(rx.requests) == 2


def test_no_delivery_for_other_statuses_namespaces_or_lost_access(alice, charlie, settings):
    job = TrainingJobFactory(owner=alice, status=JobStatus.SUCCEEDED)
    Webhook.objects.create(
        owner=alice, namespace="team-a", url="http://x.example/", secret=SECRET, statuses=["Failed"]
    )
    Webhook.objects.create(
        owner=charlie,
        namespace="team-c",
        url="http://x.example/",
        secret=SECRET,
        statuses=["Succeeded"],
    )
    # charlie's grant to team-a is gone (never was): his webhook there is not served.
    Webhook.objects.create(
        owner=charlie,
        namespace="team-a",
        url="http://x.example/",
        secret=SECRET,
        statuses=["Succeeded"],
    )
    assert (
        services.webhook_dispatch(job_id=str(job.id), status="Succeeded", reason="", message="")
        == []
    )


def test_an_email_delivery_goes_through_the_mail_backend(alice, mailoutbox):
    job = TrainingJobFactory(owner=alice, status=JobStatus.FAILED)
    Webhook.objects.create(
        owner=alice, namespace="team-a", email="alice@example.com", statuses=["Failed"]
    )
    [delivery_id] = services.webhook_dispatch(
        job_id=str(job.id), status="Failed", reason="Oops", message=""
    )
    assert services.webhook_deliver(delivery_id=delivery_id).state == DeliveryState.DELIVERED
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["alice@example.com"]
    assert job.name in mailoutbox[0].subject and "Failed" in mailoutbox[0].subject
    assert f"/jobs/{job.id}" in mailoutbox[0].body


# --- end to end: the real worker, a real job --------------------------------------------------


@pytest.mark.e2e
@pytest.mark.testbed
def test_a_finished_job_is_delivered_to_a_receiver_that_failed_first(
    engineer, celery_stack, karmada, settings
):
    from jobs.tests.test_pods import _body
    from mlplatform.testing import token_client as _token_client

    settings.WEBHOOK_ALLOW_LOOPBACK = True  # this process validates; the worker has it too
    api = _token_client(engineer)
    with receiver([500, 200]) as rx:
        hook = post_json(
            api,
            "/api/v1/webhooks",
            {"url": rx.url, "secret": SECRET, "namespace": "default", "statuses": ["Succeeded"]},
        )
        assert hook.status_code == 201, hook.content
        body = _body("hooked", "pytorch", "member-cluster-2")
        created = post_json(api, "/api/v1/jobs", body)
        assert created.status_code == 201, created.content
        job_id = created.json()["id"]
        try:
            wait_for(
                lambda: len(rx.requests) >= 2,
                timeout=120,
                message="the receiver to get the Succeeded delivery twice (a 500 first)",
            )
        finally:
            api.delete(f"/api/v1/jobs/{job_id}")
    assert TrainingJob.objects.get(id=job_id).finished_at is not None
    first, second = rx.requests[:2]
    assert first.body == second.body
    assert second.headers["x-mlplatform-signature"] == (
        "sha256=" + hmac.new(SECRET.encode(), second.body, hashlib.sha256).hexdigest()
    )
    payload = json.loads(second.body)
    assert (payload["id"], payload["status"], payload["namespace"]) == (
        job_id,
        "Succeeded",
        "default",
    )
    delivery = wait_for(
        lambda: WebhookDelivery.objects.filter(job_id=job_id, state="delivered").first(),
        timeout=20,
        message="the delivery recorded as delivered",
    )
    assert delivery.attempts == 2 and delivery.response_code == 200
    listed = api.get("/api/v1/webhooks").json()
    assert listed[0]["lastDelivery"]["state"] == "delivered"


def test_a_pass_of_many_changes_asks_who_listens_once(alice, django_capture_on_commit_callbacks):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jobs.services import job_transition

    Webhook.objects.create(
        owner=alice, namespace="team-a", email="alice@example.com", statuses=["Failed"]
    )
    jobs = [TrainingJobFactory(owner=alice, status=JobStatus.RUNNING) for _ in range(4)]
    ends = [JobStatus.FAILED, JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.SUCCEEDED]

    def move(pairs):
        with CaptureQueriesContext(connection) as queries:
            with django_capture_on_commit_callbacks() as callbacks:
                for job, new in pairs:
                    job_transition(job_id=job.id, old=JobStatus.RUNNING, new=new)
        asked = [q for q in queries if '"webhooks_webhook"' in q["sql"]]
        notified = [c for c in callbacks if c.__qualname__.startswith("notify_on_commit")]
        return len(asked), len(notified)

    with services.listeners_read_once():
        assert move(list(zip(jobs[:2], ends[:2], strict=True))) == (1, 1)
        # Registered after the pass has read: heard from the next pass on.
        Webhook.objects.create(
            owner=alice, namespace="team-a", email="alice@example.com", statuses=["Succeeded"]
        )
        assert move(list(zip(jobs[2:], ends[2:], strict=True))) == (0, 1)
    # Outside a pass, each change asks, and sees the new webhook.
    TrainingJob.objects.filter(id__in=[j.id for j in jobs]).update(status=JobStatus.RUNNING)
    assert move(list(zip(jobs, ends, strict=True))) == (4, 4)
