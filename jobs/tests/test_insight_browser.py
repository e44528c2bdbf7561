"""A real failed job on the testbed, seen in Debian's Chromium: the detail page shows the
failure in one line with its class, the replica table, the durations and the Kubernetes
events loaded after the page (screenshot: test-artifacts/insight-failed-job.png)."""

from __future__ import annotations

import os
import re

import pytest

# Playwright's sync API runs an event loop in this thread; the live server shares the DB.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Page, expect

from jobs.tests.test_browser import _shot, browser, page  # noqa: F401  (fixtures)
from jobs.tests.test_insight_e2e import (  # noqa: F401  (api: a fixture)
    CPU_CLUSTER,
    OUTCOME,
    _body,
    _failed,
    _submit,
    api,
)

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.testbed]


def test_the_page_of_a_job_killed_for_memory(page: Page, api, engineer):  # noqa: F811
    job_id = _submit(
        api, _body("oom-in-browser", "pytorch", CPU_CLUSTER, instances=2, labels={OUTCOME: "oom"})
    )
    _failed(api, job_id, want_class="OutOfMemory")

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("mle")
    page.get_by_label("Password").fill("mle-pass-123")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"/jobs/{job_id}")
    failure = page.locator(".failure")
    expect(failure).to_contain_text("Out of memory")
    # Both replicas are killed for memory: the summary names whichever ended first.
    expect(failure).to_contain_text(
        re.compile(r"(master|worker)-0 exited with code 137 \(OOMKilled\)")
    )
    expect(page.locator(".replicas-table")).to_contain_text("OOMKilled")
    expect(page.locator(".duration-total")).not_to_have_text("—")
    # The events arrive after the page, from Karmada and the member.
    events = page.locator("#job-events .events-table")
    expect(events).to_contain_text("karmada")
    expect(events).to_contain_text(CPU_CLUSTER)
    _shot(page, "insight-failed-job.png")

    page.goto("/?failure_class=OutOfMemory")
    expect(page.locator(".job-failure")).to_contain_text("OutOfMemory")
