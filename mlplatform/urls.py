from django.contrib import admin
from django.urls import include, path

from jobs.api.routing import route
from mlplatform.health import HealthApi

urlpatterns = [
    *route("health", HealthApi.as_view(), name="health"),
    path("api/", include("jobs.api.urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("clusters/", include("clusters.urls")),
    path("", include("jobs.urls")),
]

# Unknown /api/ URLs and crashes answer API clients in the API's error shape; pages keep
# Django's HTML pages.
handler404 = "jobs.api.errors.page_not_found"
handler500 = "jobs.api.errors.server_error"
