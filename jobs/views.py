"""Server-rendered pages for jobs. Each view renders the whole page for a normal request and
only its fragment for HTMX; reads go through ``jobs.selectors`` (scoped to the user), writes
through ``jobs.services``. Polled fragments answer 286 once nothing can change any more."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import yaml
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from clusters.client import ClusterError
from jobs import archive, services
from jobs.exceptions import JobStateError, PodNotFound, SpecError
from jobs.forms import HP_PREFIX, JobFilterForm, JobForm, namespace_suggestions
from jobs.frameworks import get_framework
from jobs.models import FINAL_STATUSES, WAITING_LAYERS, TrainingJob
from jobs.selectors import (
    MAX_TAIL_LINES,
    job_cluster_events,
    job_events,
    job_get,
    job_list,
    job_pod_log_follow,
    job_pods,
    queue_overview,
    run_again_name,
    user_can_use_namespace,
    visible_namespaces,
)

PAGE_SIZE = 25
STOP_POLLING = 286  # htmx cancels an `every` trigger on this status


class HtmxHttpRequest(HttpRequest):
    """What these views receive: ``HtmxMiddleware`` (always installed) sets ``htmx`` on
    every request. For type hints only; Django still passes its own request class."""

    htmx: HtmxDetails


def _fragment_request(request: HtmxHttpRequest) -> bool:
    """An HTMX request that wants a fragment (a history restore wants the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def _vary(response: HttpResponse) -> HttpResponse:
    # The same URL answers a page or a fragment: keep caches from mixing them up.
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def _job_or_404(request: HtmxHttpRequest, pk: uuid.UUID) -> TrainingJob:
    try:
        return job_get(user=request.user, job_id=pk)
    except TrainingJob.DoesNotExist:
        raise Http404("No such job.") from None


# --- list -------------------------------------------------------------------------------


def _list_namespaces(user: Any) -> list[str]:
    allowed = visible_namespaces(user=user)
    return sorted(allowed) if allowed is not None else namespace_suggestions()


@require_GET
def job_list_view(request: HtmxHttpRequest) -> HttpResponse:
    filter_form = JobFilterForm(
        request.GET, user=request.user, namespaces=_list_namespaces(request.user)
    )
    filters = filter_form.filters()
    page = Paginator(job_list(user=request.user, filters=filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    jobs = list(page.object_list)
    # Poll only while something on screen can still change on its own.
    polling = any(job.status not in FINAL_STATUSES for job in jobs)
    version = _version(jobs)
    query = request.GET.copy()
    query.pop("v", None)
    poll_query = query.copy()
    poll_query["v"] = version
    query.pop("page", None)
    context = {
        "filter_form": filter_form,
        "filtered": bool(filters),
        "page": page,
        "jobs": jobs,
        "polling": polling,
        "poll_url": f"{request.path}?{poll_query.urlencode()}",
        "page_query": query.urlencode(),
    }
    if _fragment_request(request):
        if request.htmx.target == "job-rows":
            if not polling:
                response = render(request, "jobs/_job_rows.html", context)
                response.status_code = STOP_POLLING
            elif request.GET.get("v") == version:
                # Nothing changed: no swap, so hover and focus in the table survive.
                response = HttpResponse(status=204)
            else:
                response = render(request, "jobs/_job_rows.html", context)
            return _vary(response)
        return _vary(render(request, "jobs/_job_results.html", context))
    return _vary(render(request, "jobs/list.html", context))


# --- create -----------------------------------------------------------------------------


def _initial_from_query(request: HtmxHttpRequest) -> dict[str, Any]:
    """Prefill from the query string: lets `?framework=pytorch` links, and the no-JavaScript
    "Update hyperparameters" button, carry what was typed. Hyperparameters are left to the
    chosen framework's defaults."""
    initial: dict[str, Any] = {}
    for key in request.GET:
        if key.startswith(HP_PREFIX):
            continue
        values = request.GET.getlist(key)
        initial[key] = values if key == "target_clusters" else values[-1]
    return initial


@require_http_methods(["GET", "POST"])
def job_create_view(request: HtmxHttpRequest) -> HttpResponse:
    source_job: TrainingJob | None = None
    if request.method == "POST":
        form = JobForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                job = services.job_create(user=request.user, data=form.to_request())
            except SpecError as exc:
                form.add_spec_errors(exc)
            else:
                messages.success(request, f"Job {job.name} created.")
                url = reverse("jobs:detail", args=[job.pk])
                if request.htmx:
                    return HttpResponseClientRedirect(url)
                return redirect(url)
    else:
        source_job = _run_again_source(request)
        initial = _initial_from_query(request)
        if source_job is not None:
            initial = JobForm.initial_from_job(source_job, name=run_again_name(job=source_job))
        form = JobForm(initial=initial, user=request.user)
    template = "jobs/_create_form.html" if _fragment_request(request) else "jobs/create.html"
    return _vary(render(request, template, {"form": form, "source_job": source_job}))


def _run_again_source(request: HtmxHttpRequest) -> TrainingJob | None:
    """``?from=<job id>``: the job whose request fills the form ("Run again"); another
    user's job, or no such job, is a 404 like its own page."""
    raw = request.GET.get("from")
    if not raw:
        return None
    try:
        return job_get(user=request.user, job_id=raw)
    except TrainingJob.DoesNotExist:
        raise Http404("No such job.") from None


@require_GET
def job_hyperparameters_view(request: HtmxHttpRequest) -> HttpResponse:
    """The hyperparameter fieldset for the framework chosen in the form, with its defaults."""
    form = JobForm(initial={"framework": request.GET.get("framework")}, user=request.user)
    return render(request, "jobs/_hyperparameters.html", {"form": form, "oob": True})


# --- detail -----------------------------------------------------------------------------


def _manifests_yaml(job: TrainingJob) -> list[dict[str, str]]:
    docs = []
    for manifest in job.manifests or []:
        meta = manifest.get("metadata") or {}
        docs.append(
            {
                "title": f"{manifest.get('kind', 'Object')} {meta.get('name', '')}".strip(),
                "api_version": manifest.get("apiVersion", ""),
                # PostgreSQL's jsonb does not keep key order; sorted keys read like `kubectl get
                # -o yaml` (apiVersion, kind, metadata, spec).
                "yaml": yaml.safe_dump(manifest, sort_keys=True, default_flow_style=False),
            }
        )
    return docs


def _hyperparameter_items(job: TrainingJob) -> list[tuple[str, str]]:
    """The job's hyperparameters in its framework's schema order, extras after."""
    values = dict(job.hyperparameters or {})
    try:
        order = [p.name for p in get_framework(job.framework).params]
    except KeyError:
        order = []
    names = [n for n in order if n in values] + sorted(n for n in values if n not in order)
    return [
        (name, json.dumps(values[name]))
        if isinstance(values[name], bool)
        else (name, str(values[name]))
        for name in names
    ]


def _version(jobs: list[TrainingJob]) -> str:
    """What a poller currently shows: every change to a job moves its ``updated_at``."""
    seen = ",".join(f"{job.pk}:{job.updated_at.timestamp()}" for job in jobs)
    return hashlib.sha1(seen.encode(), usedforsecurity=False).hexdigest()[:16]


@require_GET
def job_detail_view(request: HtmxHttpRequest, pk: uuid.UUID) -> HttpResponse:
    job = _job_or_404(request, pk)
    context = {
        "job": job,
        "events": list(job_events(job=job)),
        "polling": not job.is_final,
        "version": _version([job]),
        **_waiting_context(job),
    }
    if not _fragment_request(request):
        context["manifests"] = _manifests_yaml(job)
        context["hyperparameters"] = _hyperparameter_items(job)
        return _vary(render(request, "jobs/detail.html", context))
    # The polled part: status, cluster, history and the actions the status allows. The
    # manifests are fixed when the job is created, so they are not re-sent every second.
    if job.is_final:
        response = render(request, "jobs/_detail_status.html", context)
        response.status_code = STOP_POLLING
    elif request.GET.get("v") == context["version"]:
        # Nothing changed: no swap, so a focused or hovered button stays put.
        response = HttpResponse(status=204)
    else:
        response = render(request, "jobs/_detail_status.html", context)
    return _vary(response)


def _waiting_context(job: TrainingJob) -> dict[str, Any]:
    if not job.is_waiting:
        return {}
    since = job.waiting_since
    return {
        "waiting_layer_label": WAITING_LAYERS.get(job.waiting_layer, job.waiting_layer),
        "waiting_seconds": (timezone.now() - since).total_seconds() if since else None,
    }


@require_GET
def job_events_view(request: HtmxHttpRequest, pk: uuid.UUID) -> HttpResponse:
    """The Kubernetes events of the job (Karmada's and its member's), oldest first; loaded
    after the page and cached a few seconds (see ``job_cluster_events``)."""
    job = _job_or_404(request, pk)
    cluster_error = ""
    found: dict[str, Any] = {"events": [], "errors": {}}
    try:
        found = job_cluster_events(job)
    except ClusterError as exc:
        cluster_error = exc.message
    context = {
        "job": job,
        "cluster_events": found["events"],
        "event_errors": found["errors"],
        "cluster_error": cluster_error,
        "polling": not job.is_final,
    }
    if _fragment_request(request):
        response = render(request, "jobs/_events.html", context)
        if job.is_final and not cluster_error and not found["errors"]:
            response.status_code = STOP_POLLING
        return _vary(response)
    response = render(request, "jobs/events.html", context)
    if cluster_error:
        response.status_code = 503
    return _vary(response)


@require_GET
def job_status_view(request: HtmxHttpRequest, pk: uuid.UUID) -> HttpResponse:
    """The status badge alone: a cheap fragment to poll or embed."""
    job = _job_or_404(request, pk)
    response = render(request, "jobs/_status_badge.html", {"job": job, "poll": True})
    if job.is_final:
        response.status_code = STOP_POLLING
    return response


# --- pods and logs ---------------------------------------------------------------------

DEFAULT_TAIL_LINES = 500
TAIL_CHOICES = (100, 500, 2000, MAX_TAIL_LINES)


def _tail_lines(request: HtmxHttpRequest) -> int:
    # A bad value is a typo in a URL, not worth an error page: fall back to the default.
    try:
        lines = int(request.GET.get("tailLines", DEFAULT_TAIL_LINES))
    except ValueError:
        lines = DEFAULT_TAIL_LINES
    return max(1, min(lines, MAX_TAIL_LINES))


@require_GET
def job_pods_view(request: HtmxHttpRequest, pk: uuid.UUID) -> HttpResponse:
    """The job's pods, read live from its member cluster. Polled every 5 s while the job can
    change; a cluster that does not answer is shown in place of the table, not as a 500."""
    job = _job_or_404(request, pk)
    pods = []
    cluster_error = ""
    try:
        pods = job_pods(job=job)
    except ClusterError as exc:
        cluster_error = exc.message
    live = {pod.name for pod in pods}
    context = {
        "job": job,
        "pods": pods,
        "cluster_error": cluster_error,
        "polling": not job.is_final,
        # Pods that are gone but whose logs were kept.
        "archived_logs": [a for a in archive.job_archived_logs(job=job) if a.pod not in live],
    }
    if _fragment_request(request):
        response = render(request, "jobs/_pods.html", context)
        # After a failed read keep asking: the next answer may be the final list.
        if job.is_final and not cluster_error:
            response.status_code = STOP_POLLING
        return _vary(response)
    response = render(request, "jobs/pods.html", context)
    if cluster_error:
        response.status_code = 503
    return _vary(response)


# Lines of a followed log kept on the page: the oldest go once it holds more.
FOLLOW_POLL_SECONDS = 2
LIVE_PHASES = ("Pending", "Running")


@require_GET
def job_pod_log_view(request: HtmxHttpRequest, pk: uuid.UUID, pod: str) -> HttpResponseBase:
    """One pod's main container log; only pods of this job (else 404). While the pod runs
    the page follows it (``follow`` polls that fetch only the lines after a cursor); once
    the pod is gone, or its job is final and archived, the archived copy is shown."""
    job = _job_or_404(request, pk)
    if request.GET.get("download"):
        return _pod_log_download(job, pod)
    if request.GET.get("follow") and _fragment_request(request):
        return _pod_log_follow(request, job, pod)
    tail_lines = _tail_lines(request)
    log_text = ""
    cluster_error = ""
    cursor = None
    phase = ""
    saved = archive.job_log_archive_for(job=job, pod=pod)
    use_archive = saved is not None and job.is_final
    if not use_archive:
        try:
            chunk = job_pod_log_follow(job=job, pod=pod, tail_lines=tail_lines)
            log_text, cursor, phase = chunk.text, chunk.cursor, chunk.pod.phase
        except PodNotFound:
            if saved is None:
                raise Http404("No such pod.") from None
            use_archive = True
        except ClusterError as exc:
            if saved is not None:
                use_archive = True
            elif exc.status == 404:  # deleted between the listing and the log request
                raise Http404("No such pod.") from None
            else:
                cluster_error = exc.message
    if use_archive and saved is not None:
        log_text = archive.archive_text(saved, tail_lines=tail_lines)
        phase = saved.phase
    context = {
        "job": job,
        "pod": pod,
        "log": log_text,
        "tail_lines": tail_lines,
        "tail_choices": TAIL_CHOICES,
        "cluster_error": cluster_error,
        "archived": use_archive,
        "archive": saved if use_archive else None,
        "archive_mib": settings.LOG_ARCHIVE_MAX_MIB,
        "phase": phase,
        "cursor": cursor or "",
        "following": not use_archive and not cluster_error and phase in LIVE_PHASES,
        "poll_seconds": FOLLOW_POLL_SECONDS,
    }
    if _fragment_request(request):
        return _vary(render(request, "jobs/_pod_log.html", context))
    response = render(request, "jobs/pod_log.html", context)
    if cluster_error:
        response.status_code = 503
    return _vary(response)


def _pod_log_follow(request: HtmxHttpRequest, job: TrainingJob, pod: str) -> HttpResponse:
    """The lines written since ``since``, appended to the page; 286 (stop) once the pod
    has ended or is gone."""
    since = request.GET.get("since") or None
    context: dict[str, Any] = {
        "job": job,
        "pod": pod,
        "cursor": since or "",
        "new_lines": "",
        # Lines on the page already: no "nothing written yet" placeholder to remove.
        "had_lines": bool(since),
        "following": True,
        "poll_seconds": FOLLOW_POLL_SECONDS,
        "note": "",
    }
    try:
        chunk = job_pod_log_follow(job=job, pod=pod, since=since)
    except PodNotFound:
        context.update(following=False, note="The pod is gone; reload for its archived log.")
    except ClusterError as exc:
        # Keep asking: the member may answer on the next poll.
        context["note"] = f"The member did not answer just now ({exc.message[:200]})."
    else:
        context.update(
            cursor=chunk.cursor or since or "",
            new_lines=chunk.text,
            following=chunk.pod.phase in LIVE_PHASES,
        )
        if not context["following"]:
            context["note"] = f"The pod has ended ({chunk.pod.phase})."
    response = render(request, "jobs/_pod_log_follow.html", context)
    if not context["following"]:
        response.status_code = STOP_POLLING
    return _vary(response)


def _pod_log_download(job: TrainingJob, pod: str) -> HttpResponseBase:
    from jobs.api.views import archive_download_response, log_download_response

    saved = archive.job_log_archive_for(job=job, pod=pod)
    if saved is not None and job.is_final:
        return archive_download_response(saved)
    try:
        return log_download_response(job=job, pod=pod)
    except PodNotFound:
        if saved is not None:
            return archive_download_response(saved)
        raise Http404("No such pod.") from None
    except ClusterError as exc:
        if saved is not None:
            return archive_download_response(saved)
        if exc.status == 404:
            raise Http404("No such pod.") from None
        return HttpResponse(
            f"The log could not be read from {job.cluster} just now: {exc.message}\n",
            status=503,
            content_type="text/plain; charset=utf-8",
        )


# --- actions ----------------------------------------------------------------------------


def _back_to_detail(request: HtmxHttpRequest, job: TrainingJob) -> HttpResponse:
    url = reverse("jobs:detail", args=[job.pk])
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


@require_http_methods(["GET", "POST"])
def job_delete_view(request: HtmxHttpRequest, pk: uuid.UUID) -> HttpResponse:
    job = _job_or_404(request, pk)
    if request.method == "GET":
        return render(request, "jobs/confirm_delete.html", {"job": job})
    try:
        services.job_delete(job=job, user=request.user)
    except JobStateError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Deleting job {job.name} from Karmada.")
    return _back_to_detail(request, job)


@require_POST
def job_resubmit_view(request: HtmxHttpRequest, pk: uuid.UUID) -> HttpResponse:
    job = _job_or_404(request, pk)
    try:
        services.job_resubmit(job=job, user=request.user)
    except JobStateError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Job {job.name} resubmitted.")
    return _back_to_detail(request, job)


# --- queue ------------------------------------------------------------------------------


@require_GET
def queue_view(request: HtmxHttpRequest) -> HttpResponse:
    """Per namespace the user may see: usage against quota, and the waiting jobs in the
    order they will be admitted. ``?namespace=`` narrows it to one (404 for outsiders).
    The namespaces' part is polled every 2 s; a poll that finds nothing changed answers 204
    so the page does not flicker."""
    namespace = request.GET.get("namespace") or None
    if namespace is not None and not user_can_use_namespace(user=request.user, namespace=namespace):
        raise Http404("No such namespace.")
    overview = queue_overview(user=request.user, namespace=namespace)
    seen = ";".join(
        f"{q.namespace}:{[(b['used'], b['limit']) for b in q.bars()]}:{_version(q.waiting)}"
        for q in overview
    )
    version = hashlib.sha1(seen.encode(), usedforsecurity=False).hexdigest()[:16]
    query = request.GET.copy()
    query["v"] = version
    context = {
        "overview": overview,
        "namespace": namespace,
        "version": version,
        "poll_url": f"{request.path}?{query.urlencode()}",
    }
    if _fragment_request(request):
        if request.GET.get("v") == version:
            return _vary(HttpResponse(status=204))
        return _vary(render(request, "jobs/_queue.html", context))
    return _vary(render(request, "jobs/queue.html", context))


@require_POST
def job_bulk_view(request: HtmxHttpRequest) -> HttpResponse:
    """Delete or resubmit the jobs ticked on the list; one message sums up the results."""
    action = request.POST.get("action", "")
    ids = request.POST.getlist("ids")[: services.BULK_MAX_IDS]
    if action not in services.BULK_ACTIONS:
        messages.error(request, "Choose Delete or Resubmit.")
    elif not ids:
        messages.error(request, "Select at least one job first.")
    else:
        results = services.job_bulk(user=request.user, action=action, ids=ids)
        done = [r for r in results if r["result"] == "done"]
        refused = [r for r in results if r["result"] != "done"]
        verb = "Deleting" if action == "delete" else "Resubmitted"
        if done:
            messages.success(request, f"{verb} {len(done)} job{'s' if len(done) != 1 else ''}.")
        if refused:
            names = dict(
                TrainingJob.objects.filter(
                    id__in=[r["id"] for r in refused if r["result"] == "refused"]
                ).values_list("id", "name")
            )
            why = "; ".join(
                f"{names.get(uuid.UUID(r['id']), r['id'])}: {r['message']}"
                if r["result"] == "refused"
                else f"{r['id']}: not found"
                for r in refused[:10]
            )
            messages.error(request, f"{len(refused)} not done — {why}")
    target = request.POST.get("next") or reverse("jobs:list")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("jobs:list")
    if request.htmx:
        return HttpResponseClientRedirect(target)
    return redirect(target)
