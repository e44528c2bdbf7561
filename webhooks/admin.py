from django.contrib import admin

from jobs.selectors import scope_to_user
from webhooks.models import Webhook, WebhookDelivery


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ("owner", "namespace", "url", "email", "statuses", "created_at")
    list_filter = ("namespace",)
    search_fields = ("url", "email", "owner__username")
    exclude = ("secret",)
    readonly_fields = ("created_at",)

    def get_queryset(self, request):
        return scope_to_user(super().get_queryset(request), user=request.user)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Every delivery with its attempts; filter by state to see the failures."""

    list_display = (
        "created_at",
        "job",
        "status",
        "channel",
        "webhook",
        "state",
        "attempts",
        "response_code",
        "last_error",
    )
    list_filter = ("state", "channel", "status")
    search_fields = ("job__name", "webhook__url", "last_error")
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    list_select_related = ("job", "webhook")

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return scope_to_user(qs, user=request.user, field="job__namespace")
