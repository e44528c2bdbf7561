from typing import Any

from django.contrib import admin
from django.contrib.auth import urls as auth_urls
from django.contrib.auth.decorators import login_required
from django.urls import URLPattern, URLResolver, include, path

from jobs.api.routing import route
from mlplatform.health import HealthApi
from mlplatform.metrics import metrics_view


def _accounts() -> list[URLPattern | URLResolver]:
    """Django's login views. Django exempts its password-reset pages from the login, but
    the platform sends no email: they stay behind the login like every other page."""
    patterns: list[URLPattern | URLResolver] = []
    for pattern in auth_urls.urlpatterns:
        if isinstance(pattern, URLPattern) and (pattern.name or "").startswith("password_"):
            view: Any = login_required(pattern.callback)
            view.login_required = True
            pattern = URLPattern(pattern.pattern, view, pattern.default_args, pattern.name)
        patterns.append(pattern)
    return patterns


urlpatterns = [
    *route("health", HealthApi.as_view(), name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("api/", include("jobs.api.urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include(_accounts())),
    path("clusters/", include("clusters.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("", include("jobs.urls")),
]

# Unknown /api/ URLs and crashes answer API clients in the API's error shape; pages keep
# Django's HTML pages.
handler404 = "jobs.api.errors.page_not_found"
handler500 = "jobs.api.errors.server_error"
