"""The member-cluster page: what Karmada reports about each cluster, as the inventory sync
last mirrored it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clusters.selectors import cluster_list, control_plane_health


@require_GET
def cluster_list_view(request: HttpRequest) -> HttpResponse:
    clusters = list(cluster_list())
    context = {"clusters": clusters, "health": control_plane_health()}
    return render(request, "clusters/list.html", context)
