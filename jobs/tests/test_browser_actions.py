"""The browser (Debian's Chromium through Playwright) on the job actions: "Run again" opens
the form filled in and creates the new run; the list's bulk delete; the webhooks page; and
a live log that shows new lines as the container writes them, without reloading, then its
archive once the job is deleted (real testbed, real worker)."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from typing import Any

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Page, expect

from jobs import services
from jobs.models import JobStatus, NamespaceGrant, TrainingJob
from jobs.tests import test_browser as shared
from jobs.tests.factories import TrainingJobFactory
from jobs.tests.test_browser import _shot
from testbed.polling import wait_for

pytestmark = pytest.mark.browser

# The browser, its pages and personas, shared with the other browser tests.
browser = shared.browser
page = shared.page
dana = shared.dana
clusters = shared.clusters
no_worker = shared.no_worker


def _login(page: Page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Training jobs", exact=True)).to_be_visible()


def test_run_again_bulk_delete_and_webhooks(page: Page, dana, clusters, no_worker, settings):
    source = TrainingJobFactory(
        name="nightly",
        owner=dana,
        succeeded=True,
        cpu_cores=3,
        hyperparameters={
            "num_round": 42,
            "eta": 0.2,
            "max_depth": 6,
            "objective": "binary:logistic",
        },
    )
    _login(page, "dana", "dana-pass-123")

    # Run again: the form opens filled with the job's spec, named as its next run.
    page.get_by_role("link", name="nightly").click()
    page.locator("#job-status").get_by_role("link", name="Run again").click()
    expect(page).to_have_url(re.compile(rf"/jobs/new\?from={source.pk}$"))
    expect(page.get_by_text("Run again: filled in from")).to_be_visible()
    expect(page.get_by_label("Job name")).to_have_value("nightly-2")
    expect(page.get_by_label("CPU cores")).to_have_value("3.0")
    expect(page.locator("#id_hp__num_round")).to_have_value("42")
    expect(page.locator("#id_hp__eta")).to_have_value("0.2")
    expect(page.locator("#id_target_clusters_0")).to_be_checked()
    page.locator("#id_hp__num_round").fill("50")  # editable before it is created
    _shot(page, "run-again-form.png")
    page.get_by_role("button", name="Create job").click()
    expect(page.get_by_role("heading", name="nightly-2", exact=True)).to_be_visible()
    clone = TrainingJob.objects.get(name="nightly-2")
    assert clone.hyperparameters["num_round"] == 50 and clone.cpu_cores == 3
    assert clone.target_clusters == source.target_clusters

    # Bulk: tick both on the list and delete them together; the ticks survive the polling.
    services.job_apply_status(job_id=clone.pk, status=JobStatus.SUBMITTED, reason="Submitted")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    page.get_by_label("Select nightly-2").check()
    page.get_by_label("Select nightly", exact=True).check()
    services.job_apply_status(
        job_id=clone.pk, status=JobStatus.SCHEDULED, reason="Scheduled", cluster="member-cluster-1"
    )
    expect(page.get_by_role("row").filter(has_text="nightly-2").locator(".badge")).to_have_text(
        "Scheduled"
    )
    expect(page.get_by_label("Select nightly-2")).to_be_checked()
    _shot(page, "list-bulk-selected.png")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#bulk-form").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status").filter(has_text="Deleting 2 jobs")).to_be_visible()
    assert set(TrainingJob.objects.values_list("status", flat=True)) == {JobStatus.DELETING}

    # Webhooks: a page of its own in the nav; add one, see it listed, remove it.
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    page.get_by_label("Endpoint URL").fill("http://127.0.0.1:9/hook")
    page.get_by_label("Secret").fill("short")
    page.get_by_role("button", name="Add webhook").click()
    expect(page.locator("#webhook-errors")).to_contain_text("secret")
    page.get_by_label("Secret").fill("a-very-long-shared-secret")
    page.get_by_label("Endpoint URL").fill("http://127.0.0.1:9/hook")
    page.get_by_role("button", name="Add webhook").click()
    row = page.locator("tr[data-webhook]")
    expect(row).to_contain_text("http://127.0.0.1:9/hook")
    expect(row).to_contain_text("Succeeded")
    _shot(page, "webhooks.png")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("No webhooks yet.")).to_be_visible()


# --- live logs on the testbed ---------------------------------------------------------------


def _long_running(build: Any):
    """build_manifests, with every pod told to run 60 s (the testbed's kwok stages read the
    annotation), so the log can be followed while the pod runs."""

    def annotate(node: Any) -> None:
        if isinstance(node, dict):
            template = node.get("template")
            if isinstance(template, dict) and "containers" in (template.get("spec") or {}):
                meta = template.setdefault("metadata", {})
                meta.setdefault("annotations", {})["testbed.mlplatform.io/run-duration"] = "60s"
            for value in node.values():
                annotate(value)
        elif isinstance(node, list):
            for value in node:
                annotate(value)

    def wrapped(job: Any, **options: Any) -> list[dict]:
        manifests = build(job, **options)
        annotate(manifests[0])
        return manifests

    return wrapped


@pytest.mark.e2e
@pytest.mark.testbed
def test_a_running_pods_log_follows_new_lines(
    page: Page, engineer, celery_stack, karmada, testbed, monkeypatch
):
    from jobs.tests.test_pods import _body
    from mlplatform.testing import token_client as _token_client

    monkeypatch.setattr(services, "build_manifests", _long_running(services.build_manifests))
    log_file = testbed.home / "kwok" / "pod.log"
    original = log_file.read_text()
    api = _token_client(engineer)
    body = _body("live-log", "pytorch", "member-cluster-2")
    body["resources"]["instanceCount"] = 1
    created = api.post("/api/v1/jobs", body, format="json")
    assert created.status_code == 201, created.content
    job_id = created.json()["id"]
    try:
        pod = wait_for(
            lambda: next(
                (
                    p["name"]
                    for p in api.get(f"/api/v1/jobs/{job_id}/pods").json()["pods"]
                    if p["phase"] == "Running"
                ),
                None,
            ),
            timeout=90,
            message="the job's pod running",
        )
        _login(page, "mle", "mle-pass-123")
        page.goto(f"/jobs/{job_id}/pods/{pod}/log")
        lines = page.locator("#log-lines")
        expect(lines).to_contain_text("this pod runs on a kwok node")
        expect(page.locator(".log-state")).to_contain_text("Following the log")
        page.evaluate("window.__sameDocument = true")

        # The container writes two more lines: they appear, once each, with no reload.
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
        with log_file.open("a") as handle:
            handle.write(f"{stamp} stdout F epoch 1: loss 0.42\n")
            handle.write(f"{stamp[:-4]}001Z stdout F epoch 2: loss 0.17\n")
        expect(lines).to_contain_text("epoch 2: loss 0.17", timeout=15_000)
        assert page.evaluate("window.__sameDocument") is True
        text = lines.inner_text()
        assert (
            text.count("epoch 1: loss 0.42") == 1
            and text.count("this pod runs on a kwok node") == 1
        )
        cursor = page.locator("#log-follow").get_attribute("data-cursor")
        assert cursor and cursor.startswith(stamp[:19])
        _shot(page, "pod-log-live.png")

        # The whole log downloads, new lines included.
        with page.expect_download() as download:
            page.get_by_role("link", name="Download whole log").click()
        assert "epoch 2: loss 0.17" in open(download.value.path()).read()

        # Deleted: the pod goes, the log page serves the archive kept on the way.
        assert api.delete(f"/api/v1/jobs/{job_id}").status_code == 202
        wait_for(
            lambda: TrainingJob.objects.get(id=job_id).status == JobStatus.DELETED,
            timeout=60,
            message="the job deleted",
        )
        page.goto(f"/jobs/{job_id}/pods/{pod}/log")
        expect(page.locator("#log-archived")).to_contain_text("archived")
        expect(page.locator("#log-lines")).to_contain_text("epoch 2: loss 0.17")
        _shot(page, "pod-log-archived.png")
    finally:
        log_file.write_text(original)
        if (
            TrainingJob.objects.filter(id=job_id)
            .exclude(status__in=["Deleting", "Deleted"])
            .exists()
        ):
            api.delete(f"/api/v1/jobs/{job_id}")
        from jobs.models import PodLogArchive

        for saved in PodLogArchive.objects.filter(job_id=job_id):
            saved.file.delete(save=False)
    assert NamespaceGrant.objects.filter(user=engineer).exists()
