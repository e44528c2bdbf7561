"""Helpers shared by the test suites (kept out of conftest so any test tree can import
them). Polling lives in testbed.polling, which the testbed itself uses too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def token_client(user: Any) -> Any:
    """A DRF test client that sends ``user``'s API token, as scripts do."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def delete_jobs_left(client_for: Callable[[Any], Any], *, timeout: float = 90) -> None:
    """Delete through the API every job a test left behind (``client_for``: the API client
    allowed to delete a given job), then wait until Karmada no longer holds any of them, so
    the shared testbed does not fill up."""
    from jobs.models import TrainingJob
    from testbed.polling import wait_for

    for job in TrainingJob.objects.exclude(status__in=["Deleting", "Deleted"]).only(
        "id", "namespace"
    ):
        client_for(job).delete(f"/api/v1/jobs/{job.id}")
    wait_for(
        lambda: not TrainingJob.objects.filter(status="Deleting").exists(),
        timeout=timeout,
        message="test jobs removed from Karmada",
    )
