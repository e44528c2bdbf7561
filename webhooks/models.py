"""Notifications of job status changes: the endpoints users register, and every delivery
made to them (shown in the admin with its attempts and failures)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from jobs.models import FINAL_STATUSES, TrainingJob


def default_statuses() -> list[str]:
    return sorted(str(s) for s in FINAL_STATUSES)


class Webhook(models.Model):
    """One user's subscription to one namespace's status changes: a URL that receives a
    signed JSON POST, an e-mail address, or both."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks"
    )
    namespace = models.CharField(max_length=63, db_index=True)
    url = models.URLField(max_length=2000, blank=True)
    # Kept in clear: signing needs it. Never shown again after it is registered.
    secret = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    statuses = models.JSONField(default=default_statuses)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.owner} · {self.namespace} → {self.url or self.email}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One notification of one status change to one webhook, with its attempts."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=10, default="webhook")  # webhook | email
    status = models.CharField(max_length=20, help_text="the job status notified")
    # The exact bytes sent (and signed), so a retry sends the same body.
    body = models.TextField()
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.job_id} {self.status} → {self.webhook_id} ({self.state})"
