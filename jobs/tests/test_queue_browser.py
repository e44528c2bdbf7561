"""The queue page in a real browser (Debian's Chromium through Playwright): reached from the
nav, bars per namespace, the waiting jobs in order, and a job admitted while the page is
open leaves it without a reload. Screenshot: test-artifacts/queue.png."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from jobs import queue, services
from jobs.models import NamespaceQuota, TrainingJob
from jobs.tests.factories import MemberClusterFactory
from jobs.tests.test_browser import _shot, browser, dana, no_worker, page  # noqa: F401
from jobs.tests.test_queue import body

pytestmark = pytest.mark.browser


def test_the_queue_page_shows_quota_bars_and_waiting_jobs(page: Page, dana, no_worker):  # noqa: F811
    MemberClusterFactory(name="member-cluster-1")
    NamespaceQuota.objects.create(namespace="team-a", gpus=2, running_jobs=3)
    services.job_create(user=dana, data=body("running-a", gpus=2))
    services.job_create(user=dana, data=body("wait-low", gpus=2, priority="low"))
    services.job_create(user=dana, data=body("wait-high", gpus=2, priority="high"))

    page.goto("/")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("dana-pass-123")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Queue").click()
    expect(page).to_have_url(re.compile(r"/queue$"))
    section = page.locator("section.queue-namespace", has_text="team-a")
    expect(section.locator(".quota-bar", has_text="GPUs")).to_contain_text("2 of 2")
    rows = section.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("wait-high")
    expect(rows.nth(1)).to_contain_text("wait-low")
    expect(rows.nth(0)).to_contain_text("team-a uses 2 of 2 GPUs")
    _shot(page, "queue.png")

    # The running job ends: the next one is admitted and leaves the page by itself.
    TrainingJob.objects.filter(name="running-a").update(status="Succeeded")
    queue.queue_admit()
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text("wait-low")
