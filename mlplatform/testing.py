"""Helpers shared by the test suites (kept out of conftest so any test tree can import
them). Polling lives in testbed.polling, which the testbed itself uses too."""

from __future__ import annotations

from typing import Any


def token_client(user: Any) -> Any:
    """A DRF test client that sends ``user``'s API token, as scripts do."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def delete_jobs_left(client: Any, *, timeout: float = 90) -> None:
    """Delete through the API every job a test left behind (``client``: an API client, or a
    function of the job that returns the client allowed to delete it), then wait until
    Karmada no longer holds any of them, so the shared testbed does not fill up."""
    from jobs.models import TrainingJob
    from testbed.polling import wait_for

    client_for = client if callable(client) and not hasattr(client, "delete") else None
    for job in TrainingJob.objects.exclude(status__in=["Deleting", "Deleted"]).only(
        "id", "namespace"
    ):
        (client_for(job) if client_for else client).delete(f"/api/v1/jobs/{job.id}")
    wait_for(
        lambda: not TrainingJob.objects.filter(status="Deleting").exists(),
        timeout=timeout,
        message="test jobs removed from Karmada",
    )
