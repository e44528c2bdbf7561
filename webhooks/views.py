"""The webhooks page: your endpoints with their latest delivery, a form to add one, and a
button to remove one. The same services as the API validate and store them."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from jobs.exceptions import SpecError
from jobs.models import JobStatus
from jobs.selectors import namespace_suggestions, visible_namespaces
from webhooks import services
from webhooks.models import Webhook, default_statuses


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    hooks = list(services.webhook_list(user=request.user)[:200])
    latest = services.last_deliveries(hooks)
    allowed = visible_namespaces(user=request.user)
    namespaces = sorted(allowed) if allowed is not None else namespace_suggestions()
    return {
        "rows": [(hook, latest.get(hook.pk)) for hook in hooks],
        "namespaces": namespaces,
        "all_statuses": list(JobStatus.values),
        "values": {"statuses": default_statuses(), "namespace": namespaces[:1] and namespaces[0]},
        "errors": {},
        **extra,
    }


@require_http_methods(["GET", "POST"])
def webhook_list_view(request: HttpRequest) -> HttpResponse:
    fragment = bool(getattr(request, "htmx", False))
    if request.method == "POST":
        data = {
            "url": request.POST.get("url", "").strip(),
            "secret": request.POST.get("secret", ""),
            "email": request.POST.get("email", "").strip(),
            "namespace": request.POST.get("namespace", "").strip(),
            "statuses": request.POST.getlist("statuses") or None,
        }
        try:
            services.webhook_create(user=request.user, data=data)
        except SpecError as exc:
            message, fields = exc.bounded()
            values = {**data, "statuses": data["statuses"] or []}
            context = _context(request, errors=fields, error_message=message, values=values)
            if fragment:
                # htmx swaps only 2xx answers: the refused form comes back as one.
                return render(request, "webhooks/_webhooks.html", context)
            return render(request, "webhooks/list.html", context, status=exc.status_code)
        messages.success(request, "Webhook added.")
        if fragment:
            return render(request, "webhooks/_webhooks.html", _context(request))
        return redirect("webhooks:list")
    template = "webhooks/_webhooks.html" if fragment else "webhooks/list.html"
    return render(request, template, _context(request))


@require_POST
def webhook_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        hook = services.webhook_get(user=request.user, webhook_id=pk)
    except Webhook.DoesNotExist:
        raise Http404("No such webhook.") from None
    services.webhook_delete(webhook=hook)
    messages.success(request, "Webhook removed.")
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(reverse("webhooks:list"))
    return redirect("webhooks:list")
