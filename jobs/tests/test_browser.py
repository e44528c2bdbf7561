"""A real browser (Debian's Chromium through Playwright) drives the pages end to end: log in,
fill the job form, switch framework, see a refused value next to its field, submit, and
watch the status change in the list without reloading.

No Celery worker runs here: the status changes come from ``jobs.services.job_apply_status``,
the same function the sync uses.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse
# ORM calls from it. The live server runs in its own thread and shares the test database.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Browser, Page, expect, sync_playwright

from jobs import services
from jobs.models import JobStatus, NamespaceGrant, TrainingJob
from jobs.tests.factories import MemberClusterFactory, TrainingJobFactory

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def browser() -> Browser:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server) -> Page:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def dana(transactional_db, django_user_model):
    user = django_user_model.objects.create_user(username="dana", password="dana-pass-123")
    NamespaceGrant.objects.create(user=user, namespace="team-a")
    return user


@pytest.fixture
def clusters(transactional_db):
    MemberClusterFactory(name="member-cluster-1", cpu_allocated=12, memory_allocated_gib=40)
    MemberClusterFactory(name="member-cluster-2", no_gpu=True)
    MemberClusterFactory(name="member-cluster-3", not_ready=True)


@pytest.fixture
def no_worker(monkeypatch):
    # Nothing consumes the queue in this test: keep submissions from reaching a broker.
    monkeypatch.setattr(services, "_enqueue_submit", lambda job_id, token: None)
    monkeypatch.setattr(services, "_enqueue_delete", lambda job_id: None)


def _shot(page: Page, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def test_create_a_job_and_watch_it_run(page: Page, dana, clusters, no_worker):
    # Log in: every page sends an anonymous visitor to the login page first.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    _shot(page, "login.png", full_page=False)
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("dana-pass-123")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Training jobs", exact=True)).to_be_visible()
    expect(page.get_by_text("No training jobs yet")).to_be_visible()
    _shot(page, "list-empty.png", full_page=False)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="New job").click()
    expect(page.get_by_role("heading", name="New training job", exact=True)).to_be_visible()

    page.get_by_label("Job name").fill("browser-run")
    page.get_by_label("CPU cores").fill("2")
    page.locator("#id_target_clusters_0").check()
    expect(page.locator("#id_target_clusters_2")).to_be_disabled()

    # Switching framework swaps the hyperparameter fieldset and keeps everything else.
    legend = page.locator("#hyperparameters legend")
    page.get_by_label("Framework").select_option("pytorch")
    expect(legend).to_contain_text("PyTorch")
    expect(page.locator("#id_hp__learning_rate")).to_have_value("0.01")
    expect(page.locator("#id_hp__eta")).to_have_count(0)
    expect(page.locator("#builtin-image")).to_contain_text("pytorch")
    page.get_by_label("Framework").select_option("xgboost")
    expect(legend).to_contain_text("XGBoost")
    expect(page.locator("#id_hp__eta")).to_have_value("0.3")
    expect(page.get_by_label("Job name")).to_have_value("browser-run")
    expect(page.locator("#id_target_clusters_0")).to_be_checked()

    # A refused value comes back next to its field, with what was typed still there.
    page.locator("#id_hp__num_round").fill("20")
    page.locator("#id_hp__eta").fill("5")
    page.get_by_role("button", name="Create job").click()
    eta_field = page.locator('[data-param="eta"]')
    expect(eta_field.locator(".field-errors")).to_have_text("Must be at most 1.")
    expect(page.locator("#id_hp__eta")).to_have_value("5")
    expect(page.locator("#id_hp__eta")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_hp__eta")).to_be_focused()
    expect(page.get_by_label("Job name")).to_have_value("browser-run")
    expect(page.get_by_label("CPU cores")).to_have_value("2")
    expect(page.locator("#id_hp__num_round")).to_have_value("20")
    expect(page.locator("#id_target_clusters_0")).to_be_checked()
    expect(page).to_have_url(re.compile(r"/jobs/new$"))
    assert not TrainingJob.objects.exists()
    _shot(page, "create-with-error.png")

    page.locator("#id_hp__eta").fill("0.5")
    page.get_by_role("button", name="Create job").click()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", name="browser-run", exact=True)).to_be_visible()
    job = TrainingJob.objects.get(name="browser-run")
    assert job.hyperparameters["eta"] == 0.5 and job.cpu_cores == 2
    expect(page.locator("#job-status .badge")).to_have_text("Pending")
    expect(page.locator(".manifest").first).to_contain_text("kind: XGBoostJob")
    _shot(page, "detail.png")

    # The list follows the job's status by itself: no navigation, no reload.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    row = page.get_by_role("row").filter(has_text="browser-run")
    badge = row.locator(".badge")
    expect(badge).to_have_text("Pending")
    page.evaluate("window.__sameDocument = true")

    services.job_apply_status(job_id=job.pk, status=JobStatus.SUBMITTED, reason="Submitted")
    expect(badge).to_have_text("Submitted")
    services.job_apply_status(
        job_id=job.pk,
        status=JobStatus.SCHEDULED,
        reason="Scheduled",
        cluster="member-cluster-1",
    )
    expect(badge).to_have_text("Scheduled")
    expect(row).to_contain_text("member-cluster-1")
    services.job_apply_status(
        job_id=job.pk,
        status=JobStatus.RUNNING,
        reason="XGBoostJobRunning",
        cluster="member-cluster-1",
    )
    expect(badge).to_have_text("Running")
    assert page.evaluate("window.__sameDocument") is True
    _shot(page, "list-running.png")

    # A finished job stops the polling.
    services.job_apply_status(
        job_id=job.pk,
        status=JobStatus.SUCCEEDED,
        reason="XGBoostJobSucceeded",
        cluster="member-cluster-1",
    )
    expect(badge).to_have_text("Succeeded")
    expect(page.locator("#job-rows")).not_to_have_attribute("hx-trigger", re.compile(".*"))
    assert page.evaluate("window.__sameDocument") is True

    # The detail page shows the history it went through.
    row.get_by_role("link", name="browser-run").click()
    history = page.locator("table.history")
    for status in ("Pending", "Submitted", "Scheduled", "Running", "Succeeded"):
        expect(history).to_contain_text(status)
    _shot(page, "detail-succeeded.png")

    # Delete asks first, then the page follows the job to Deleted by itself.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#job-status").get_by_role("link", name="Delete").click()
    status_badge = page.locator("#job-status .badge")
    expect(status_badge).to_have_text("Deleting")
    expect(page.get_by_role("status").filter(has_text="Deleting job browser-run")).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    services.job_transition(
        job_id=job.pk,
        old=JobStatus.DELETING,
        new=JobStatus.DELETED,
        reason="Deleted",
        message="Removed from Karmada and its member cluster.",
    )
    expect(status_badge).to_have_text("Deleted")
    expect(page.locator("#job-status")).to_contain_text("Removed from Karmada")
    expect(page.locator("#job-status")).not_to_have_attribute("hx-trigger", re.compile(".*"))
    assert page.evaluate("window.__sameDocument") is True


def test_filters_clusters_page_and_custom_algorithm(page: Page, dana, clusters):
    TrainingJobFactory(name="alpha-run")
    TrainingJobFactory(name="beta-run", succeeded=True)
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("dana-pass-123")
    page.get_by_role("button", name="Log in").click()

    # Filters apply as you type or choose, and the address bar keeps them.
    page.get_by_label("Search by job name").fill("beta")
    expect(page.get_by_role("link", name="alpha-run")).to_have_count(0)
    expect(page.get_by_role("link", name="beta-run")).to_be_visible()
    expect(page).to_have_url(re.compile(r"search=beta"))
    page.get_by_label("Status").select_option("Running")
    expect(page.get_by_text("No jobs match these filters")).to_be_visible()
    expect(page).to_have_url(re.compile(r"status=Running"))

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Clusters").click()
    expect(page.get_by_role("heading", name="Member clusters", exact=True)).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="member-cluster-1")).to_contain_text("12 / 64")
    expect(page.get_by_role("row").filter(has_text="member-cluster-3")).to_contain_text("Not ready")
    _shot(page, "clusters.png")

    page.goto("/jobs/new")
    image = page.get_by_label("Container image")
    expect(image).to_be_hidden()
    page.get_by_label("Custom image").check()
    expect(image).to_be_visible()
    page.get_by_label("Built-in").check()
    expect(image).to_be_hidden()
    _shot(page, "create.png")

    # Narrow screens: the grids fold into one column and nothing overflows sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/jobs/new")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    _shot(page, "create-mobile.png", full_page=False)
