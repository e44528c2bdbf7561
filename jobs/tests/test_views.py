"""The HTMX pages: every view for the owner (alice), her teammate (bob) and an outsider
(charlie), full page vs fragment, polling that stops, and the form's error round trip."""

from __future__ import annotations

import html
import re
import uuid

import pytest
from django.urls import reverse

from jobs import services
from jobs.exceptions import SpecError
from jobs.forms import JobForm, describe
from jobs.models import JobEvent, JobStatus, TrainingJob
from jobs.tests.factories import JobEventFactory, MemberClusterFactory, TrainingJobFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


def htmx(target: str) -> dict[str, str]:
    return {**HTMX, "HTTP_HX_TARGET": target}


@pytest.fixture
def job(alice):
    job = TrainingJobFactory(owner=alice, running=True)
    JobEventFactory(job=job, to_status=JobStatus.PENDING, reason="Created")
    JobEventFactory(
        job=job,
        from_status=JobStatus.PENDING,
        to_status=JobStatus.RUNNING,
        reason="XGBoostJobRunning",
        message="job is running",
        cluster="member-cluster-1",
    )
    return job


@pytest.fixture
def cluster(db):
    return MemberClusterFactory(name="member-cluster-1")


def _login(client, user):
    client.force_login(user)
    return client


def valid_post(**overrides) -> dict:
    data = {
        "job_name": "xgb-iris",
        "namespace": "team-a",
        "framework": "xgboost",
        "algorithm_source": "default",
        "cpu_cores": "2",
        "memory_gib": "4",
        "gpu_count": "0",
        "instance_count": "2",
        "volume_size_gb": "10",
        "target_clusters": ["member-cluster-1"],
        "hp__num_round": "50",
        "hp__eta": "0.3",
        "hp__max_depth": "6",
        "hp__objective": "binary:logistic",
    }
    data.update(overrides)
    return data


# --- list -------------------------------------------------------------------------------


class TestList:
    def test_it_requires_login(self, client, db):
        response = client.get(reverse("jobs:list"))
        assert response.status_code == 302
        assert reverse("login") in response["Location"]

    def test_it_shows_team_jobs_to_owner_and_teammate(self, client, alice, bob, job):
        for user in (alice, bob):
            response = _login(client, user).get(reverse("jobs:list"))
            assert response.status_code == 200
            assert job.name in response.content.decode()
            assert reverse("jobs:detail", args=[job.pk]) in response.content.decode()

    def test_it_hides_jobs_from_outsider(self, client, charlie, job):
        response = _login(client, charlie).get(reverse("jobs:list"))
        assert response.status_code == 200
        assert job.name not in response.content.decode()
        assert "Create your first job" in response.content.decode()

    def test_it_shows_empty_state(self, client, alice):
        response = _login(client, alice).get(reverse("jobs:list"))
        body = response.content.decode()
        assert "No training jobs yet" in body
        assert reverse("jobs:create") in body
        assert 'hx-trigger="every 1s"' not in body

    def test_full_page_polls_rows_while_a_job_is_not_final(self, client, alice, job):
        body = _login(client, alice).get(reverse("jobs:list")).content.decode()
        assert "<html" in body
        assert re.search(r'<tbody id="job-rows"[^>]*hx-trigger="every 1s"', body)

    def test_it_filters_by_status_framework_and_search(self, client, alice, job):
        TrainingJobFactory(name="other-run", succeeded=True)
        TrainingJobFactory(name="torch-run", framework="pytorch")
        c = _login(client, alice)
        body = c.get(reverse("jobs:list"), {"status": "Succeeded"}).content.decode()
        assert "other-run" in body and job.name not in body
        body = c.get(reverse("jobs:list"), {"framework": "pytorch"}).content.decode()
        assert "torch-run" in body and "other-run" not in body
        body = c.get(reverse("jobs:list"), {"search": "OTHER"}).content.decode()
        assert "other-run" in body and "torch-run" not in body
        body = c.get(reverse("jobs:list"), {"search": "nothing-like-it"}).content.decode()
        assert "No jobs match these filters" in body

    def test_it_ignores_an_unknown_filter_value(self, client, alice, job):
        body = _login(client, alice).get(reverse("jobs:list"), {"status": "Bogus"})
        assert job.name in body.content.decode()

    def test_filter_request_returns_results_fragment(self, client, alice, job):
        response = _login(client, alice).get(
            reverse("jobs:list"), {"status": "Running"}, **htmx("job-results")
        )
        body = response.content.decode()
        assert response.status_code == 200
        assert "<html" not in body
        assert body.lstrip().startswith('<div id="job-results"')
        assert job.name in body
        assert "HX-Request" in response["Vary"]

    def test_history_restore_gets_the_full_page(self, client, alice, job):
        response = _login(client, alice).get(
            reverse("jobs:list"), HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
        )
        assert "<html" in response.content.decode()

    def test_rows_poll_returns_table_body(self, client, alice, job):
        response = _login(client, alice).get(reverse("jobs:list"), **htmx("job-rows"))
        body = response.content.decode()
        assert response.status_code == 200
        assert body.lstrip().startswith('<tbody id="job-rows"')
        assert 'hx-trigger="every 1s"' in body
        assert 'data-status="Running"' in body

    def test_rows_poll_answers_204_while_nothing_changed(self, client, alice, job):
        c = _login(client, alice)
        body = c.get(reverse("jobs:list"), **htmx("job-rows")).content.decode()
        poll_url = re.search(r'hx-get="([^"]+)"', body).group(1).replace("&amp;", "&")
        assert c.get(poll_url, **htmx("job-rows")).status_code == 204

        services.job_apply_status(
            job_id=job.pk, status=JobStatus.SUCCEEDED, reason="XGBoostJobSucceeded"
        )
        response = c.get(poll_url, **htmx("job-rows"))
        assert response.status_code == 286
        assert 'data-status="Succeeded"' in response.content.decode()

    def test_rows_poll_stops_with_286_when_every_job_is_final(self, client, alice):
        TrainingJobFactory(succeeded=True)
        TrainingJobFactory(deleted=True)
        response = _login(client, alice).get(reverse("jobs:list"), **htmx("job-rows"))
        assert response.status_code == 286
        assert "hx-trigger" not in response.content.decode()

    def test_it_paginates(self, client, alice):
        TrainingJobFactory.create_batch(30, succeeded=True)
        c = _login(client, alice)
        body = c.get(reverse("jobs:list")).content.decode()
        assert body.count('class="job-link"') == 25
        assert "Page 1 of 2" in body
        body = c.get(reverse("jobs:list"), {"page": 2}).content.decode()
        assert body.count('class="job-link"') == 5

    def test_operator_sees_every_namespace(self, client, operator, job):
        TrainingJobFactory(name="team-c-run", namespace="team-c")
        body = _login(client, operator).get(reverse("jobs:list")).content.decode()
        assert job.name in body and "team-c-run" in body


# --- create -----------------------------------------------------------------------------


class TestCreatePage:
    def test_it_shows_every_field_with_defaults_type_and_range(self, client, alice, cluster):
        body = _login(client, alice).get(reverse("jobs:create")).content.decode()
        assert "<html" in body
        # The first framework's schema, prefilled and described.
        assert 'name="hp__eta"' in body
        eta = re.search(r'<input[^>]*name="hp__eta"[^>]*>', body).group(0)
        assert 'value="0.3"' in eta and 'placeholder="0.3"' in eta
        assert 'min="0"' in eta and 'max="1"' in eta and 'step="any"' in eta
        assert "float in [0, 1], default 0.3" in body
        assert "int in [1, 1000000], required" in body
        depth = re.search(r'<input[^>]*name="hp__max_depth"[^>]*>', body).group(0)
        assert 'step="1"' in depth and 'value="6"' in depth
        for name in (
            "job_name",
            "cpu_cores",
            "memory_gib",
            "gpu_count",
            "instance_count",
            "volume_size_gb",
            "active_deadline_seconds",
            "backoff_limit",
            "ttl_seconds_after_finished",
            "clean_pod_policy",
            "image",
            "command",
        ):
            assert f'name="{name}"' in body, name
        assert 'hx-get="/jobs/new/hyperparameters"' in body
        assert 'hx-target="#hyperparameters"' in body

    def test_namespace_is_a_select_of_granted_namespaces(self, client, alice):
        alice.namespace_grants.create(namespace="team-b")
        body = _login(client, alice).get(reverse("jobs:create")).content.decode()
        select = re.search(r'<select name="namespace".*?</select>', body, re.S).group(0)
        assert '<option value="team-a"' in select and '<option value="team-b"' in select
        assert "team-c" not in select

    def test_operator_types_any_namespace_with_suggestions(self, client, operator, job):
        body = _login(client, operator).get(reverse("jobs:create")).content.decode()
        assert re.search(r'<input[^>]*name="namespace"[^>]*list="namespace-suggestions"', body)
        assert '<option value="team-a">' in body

    def test_it_offers_ready_clusters_and_disables_the_others(self, client, alice):
        MemberClusterFactory(name="member-cluster-1", cpu_allocated=60, gpu_allocatable=0)
        MemberClusterFactory(name="member-cluster-2", not_ready=True)
        MemberClusterFactory(name="gone-cluster", present=False)
        body = _login(client, alice).get(reverse("jobs:create")).content.decode()
        one = re.search(r'<input[^>]*value="member-cluster-1"[^>]*>', body).group(0)
        two = re.search(r'<input[^>]*value="member-cluster-2"[^>]*>', body).group(0)
        assert "disabled" not in one and "disabled" in two
        assert "Free: 4 CPU · 256 GiB · 0 GPU" in body
        assert "Not ready: cluster is not reachable" in body
        assert "gone-cluster" not in body

    def test_framework_switch_returns_that_frameworks_fieldset(self, client, alice):
        response = _login(client, alice).get(
            reverse("jobs:hyperparameters"), {"framework": "pytorch"}, **htmx("hyperparameters")
        )
        body = response.content.decode()
        assert response.status_code == 200
        assert "<html" not in body
        assert body.lstrip().startswith('<fieldset id="hyperparameters"')
        assert "PyTorch" in body
        assert "hp__eta" not in body and "hp__num_round" not in body
        from jobs.frameworks import get_framework

        for param in get_framework("pytorch").params:
            assert f'name="hp__{param.name}"' in body
            assert describe(param) in html.unescape(body)
        # The built-in image and the replica layout follow the framework, out of band.
        assert 'id="builtin-image" hx-swap-oob="true"' in body
        assert "pytorch" in re.search(r'id="builtin-image"[^>]*>([^<]*)<', body).group(1)

    def test_framework_switch_ignores_an_unknown_framework(self, client, alice):
        response = _login(client, alice).get(
            reverse("jobs:hyperparameters"), {"framework": "nope"}, **HTMX
        )
        assert response.status_code == 200
        assert "hp__" in response.content.decode()

    def test_query_string_preselects_framework_and_keeps_typed_values(self, client, alice):
        body = (
            _login(client, alice)
            .get(
                reverse("jobs:create"),
                {"framework": "tensorflow", "job_name": "keep-me", "hp__eta": "9"},
            )
            .content.decode()
        )
        assert re.search(r'<option value="tensorflow"[^>]*selected', body)
        assert 'value="keep-me"' in body
        assert "hp__eta" not in body


class TestCreateSubmit:
    def test_it_creates_the_job_and_goes_to_its_page(self, client, alice, cluster):
        response = _login(client, alice).post(reverse("jobs:create"), valid_post())
        job = TrainingJob.objects.get(name="xgb-iris")
        assert response.status_code == 302
        assert response["Location"] == reverse("jobs:detail", args=[job.pk])
        assert job.owner == alice
        assert job.status == JobStatus.PENDING
        assert job.cpu_cores == 2 and job.instance_count == 2
        assert job.hyperparameters["num_round"] == 50
        assert job.hyperparameters["objective"] == "binary:logistic"
        assert job.target_clusters == ["member-cluster-1"]

    def test_htmx_submit_redirects_with_hx_redirect(self, client, alice, cluster):
        response = _login(client, alice).post(reverse("jobs:create"), valid_post(), **HTMX)
        job = TrainingJob.objects.get(name="xgb-iris")
        assert response["HX-Redirect"] == reverse("jobs:detail", args=[job.pk])

    def test_a_bad_hyperparameter_is_shown_next_to_its_field_keeping_values(
        self, client, alice, cluster
    ):
        response = _login(client, alice).post(
            reverse("jobs:create"), valid_post(hp__eta="5", job_name="keep-me"), **HTMX
        )
        body = response.content.decode()
        assert response.status_code == 200
        assert not TrainingJob.objects.exists()
        assert body.lstrip().startswith('<form id="job-form"')
        field = re.search(r'<div class="field has-error"[^>]*data-param="eta".*?</div>', body, re.S)
        assert field and "Must be at most 1." in field.group(0)
        assert 'aria-invalid="true"' in field.group(0)
        assert 'value="5"' in field.group(0)
        assert 'value="keep-me"' in body
        assert re.search(r'<input[^>]*name="hp__num_round"[^>]*value="50"', body)
        assert re.search(r'<input[^>]*value="member-cluster-1"[^>]*checked', body)

    def test_a_missing_required_hyperparameter_is_reported(self, client, alice, cluster):
        response = _login(client, alice).post(reverse("jobs:create"), valid_post(hp__num_round=""))
        body = response.content.decode()
        assert "<html" in body  # a plain POST gets the whole page back
        field = re.search(r'data-param="num_round".*?</div>', body, re.S).group(0)
        assert "required" in field

    def test_resource_errors_land_on_resource_fields(self, client, alice, cluster):
        response = _login(client, alice).post(
            reverse("jobs:create"), valid_post(cpu_cores="0", instance_count="0")
        )
        form = response.context["form"]
        assert form.errors["cpu_cores"]
        assert form.errors["instance_count"]
        assert not TrainingJob.objects.exists()

    def test_emptied_cpu_and_memory_are_reported_on_their_fields(self, client, alice, cluster):
        response = _login(client, alice).post(
            reverse("jobs:create"), valid_post(cpu_cores="", memory_gib="")
        )
        form = response.context["form"]
        assert form.errors["cpu_cores"] and form.errors["memory_gib"]
        assert not form.non_field_errors()

    def test_a_foreign_namespace_is_refused_on_the_namespace_field(self, client, alice, cluster):
        response = _login(client, alice).post(
            reverse("jobs:create"), valid_post(namespace="team-c")
        )
        assert "team-c" in " ".join(response.context["form"].errors["namespace"])
        assert not TrainingJob.objects.exists()

    def test_a_type_error_is_caught_by_the_form(self, client, alice, cluster):
        response = _login(client, alice).post(
            reverse("jobs:create"), valid_post(hp__max_depth="deep")
        )
        assert response.context["form"].errors["hp__max_depth"]

    def test_unmapped_paths_become_form_level_errors(self, client, alice, cluster, monkeypatch):
        def refuse(*, user, data):
            raise SpecError(
                {
                    "labels.team": ["Label values must be short."],
                    "resources.instanceResources.gpuCount": ["No cluster has that many GPUs."],
                    "targetClusters.0": ["Unknown cluster 'x'."],
                }
            )

        monkeypatch.setattr(services, "job_create", refuse)
        response = _login(client, alice).post(reverse("jobs:create"), valid_post())
        form = response.context["form"]
        assert form.non_field_errors() == ["labels.team: Label values must be short."]
        assert form.errors["gpu_count"] == ["No cluster has that many GPUs."]
        assert form.errors["target_clusters"] == ["Unknown cluster 'x'."]
        assert "labels.team: Label values must be short." in response.content.decode()

    def test_custom_algorithm_and_run_policy_reach_the_request(self, alice, cluster):
        form = JobForm(
            valid_post(
                algorithm_source="custom",
                image="registry.local/train:1",
                command='python train.py --data "/opt/ml/in put"',
                algorithm_name="mine",
                active_deadline_seconds="3600",
                backoff_limit="2",
                clean_pod_policy="All",
                hp__eta="",
            ),
            user=alice,
        )
        assert form.is_valid(), form.errors
        data = form.to_request()
        assert data["algorithm"] == {
            "source": "custom",
            "framework": "xgboost",
            "algorithmName": "mine",
            "image": "registry.local/train:1",
            "command": ["python", "train.py", "--data", "/opt/ml/in put"],
        }
        assert data["resources"] == {
            "instanceResources": {"cpuCores": 2.0, "memoryGiB": 4.0, "gpuCount": 0},
            "instanceCount": 2,
            "volumeSizeGB": 10,
        }
        assert data["runPolicy"] == {
            "activeDeadlineSeconds": 3600,
            "backoffLimit": 2,
            "cleanPodPolicy": "All",
        }
        # An emptied input is left out, so the schema default applies.
        assert "eta" not in data["hyperparameters"]["xgboost"]
        assert data["targetClusters"] == ["member-cluster-1"]


# --- detail -----------------------------------------------------------------------------


class TestDetail:
    def test_it_shows_spec_history_and_manifests(self, client, alice, bob, job):
        job.manifests = [
            {
                "apiVersion": "kubeflow.org/v1",
                "kind": "XGBoostJob",
                "metadata": {"name": job.k8s_name, "namespace": "team-a"},
                "spec": {"xgbReplicaSpecs": {"Master": {"replicas": 1}}},
            }
        ]
        job.save()
        for user in (alice, bob):
            body = _login(client, user).get(reverse("jobs:detail", args=[job.pk])).content.decode()
            assert "<html" in body
            assert "member-cluster-1" in body
            assert "XGBoostJobRunning" in body and "job is running" in body
            assert "Pending → <strong>Running</strong>" in body
            assert "kind: XGBoostJob" in body and "xgbReplicaSpecs:" in body
            assert "num_round" in body
            assert re.search(r'id="job-status"[^>]*hx-trigger="every 1s"', body)

    def test_status_fragment_is_polled_and_answers_204_when_unchanged(self, client, alice, job):
        c = _login(client, alice)
        response = c.get(reverse("jobs:detail", args=[job.pk]), **htmx("job-status"))
        body = response.content.decode()
        assert response.status_code == 200
        assert body.lstrip().startswith('<section id="job-status"')
        assert "<html" not in body
        poll_url = re.search(r'hx-get="([^"]+)"', body).group(1)
        assert c.get(poll_url, **htmx("job-status")).status_code == 204

        services.job_apply_status(
            job_id=job.pk,
            status=JobStatus.FAILED,
            reason="OOMKilled",
            message="worker ran out of memory",
        )
        response = c.get(poll_url, **htmx("job-status"))
        body = response.content.decode()
        assert response.status_code == 286
        assert "OOMKilled" in body and "hx-trigger" not in body

    def test_a_final_job_page_does_not_poll(self, client, alice):
        job = TrainingJobFactory(succeeded=True)
        body = _login(client, alice).get(reverse("jobs:detail", args=[job.pk])).content.decode()
        # The pods and events sections still load once (hx-trigger="load"); nothing repeats.
        assert re.findall(r'hx-trigger="([^"]*)"', body) == ["load", "load"]
        assert "Resubmit" not in body
        assert "Delete" in body

    def test_status_badge_fragment(self, client, alice, job):
        c = _login(client, alice)
        response = c.get(reverse("jobs:status", args=[job.pk]), **HTMX)
        assert response.status_code == 200
        assert '<span class="badge badge-running"' in response.content.decode()
        assert 'hx-trigger="every 1s"' in response.content.decode()
        TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
        response = c.get(reverse("jobs:status", args=[job.pk]), **HTMX)
        assert response.status_code == 286
        assert "Succeeded" in response.content.decode()

    @pytest.mark.parametrize("name", ["detail", "status", "delete", "resubmit"])
    def test_it_rejects_outsider(self, client, charlie, job, name):
        c = _login(client, charlie)
        url = reverse(f"jobs:{name}", args=[job.pk])
        assert c.get(url).status_code in (404, 405)
        assert c.get(url, **HTMX).status_code in (404, 405)
        assert c.post(url).status_code in (404, 405)
        job.refresh_from_db()
        assert job.status == JobStatus.RUNNING

    def test_it_404s_for_a_missing_job(self, client, alice):
        url = reverse("jobs:detail", args=[uuid.uuid4()])
        assert _login(client, alice).get(url).status_code == 404


# --- actions ----------------------------------------------------------------------------


class TestDelete:
    def test_get_asks_for_confirmation(self, client, bob, job):
        response = _login(client, bob).get(reverse("jobs:delete", args=[job.pk]))
        body = response.content.decode()
        assert response.status_code == 200
        assert "PropagationPolicy" in body and job.k8s_name in body
        assert 'method="post"' in body
        job.refresh_from_db()
        assert job.status == JobStatus.RUNNING

    def test_post_deletes_through_the_service(self, client, bob, job):
        response = _login(client, bob).post(reverse("jobs:delete", args=[job.pk]))
        assert response.status_code == 302
        assert response["Location"] == reverse("jobs:detail", args=[job.pk])
        job.refresh_from_db()
        assert job.status == JobStatus.DELETING
        assert JobEvent.objects.filter(job=job, to_status=JobStatus.DELETING).exists()

    def test_htmx_delete_redirects_with_hx_redirect(self, client, alice, job):
        response = _login(client, alice).post(reverse("jobs:delete", args=[job.pk]), **HTMX)
        assert response["HX-Redirect"] == reverse("jobs:detail", args=[job.pk])
        job.refresh_from_db()
        assert job.status == JobStatus.DELETING

    def test_deleting_twice_says_why(self, client, alice, job):
        c = _login(client, alice)
        c.post(reverse("jobs:delete", args=[job.pk]))
        response = c.post(reverse("jobs:delete", args=[job.pk]), follow=True)
        assert "already deleting" in response.content.decode()

    def test_detail_offers_delete_with_confirmation(self, client, alice, job):
        body = _login(client, alice).get(reverse("jobs:detail", args=[job.pk])).content.decode()
        url = reverse("jobs:delete", args=[job.pk])
        assert f'href="{url}"' in body and f'hx-post="{url}"' in body
        assert "hx-confirm=" in body


class TestResubmit:
    def test_it_resubmits_a_failed_submission(self, client, alice):
        job = TrainingJobFactory(submit_failed=True)
        response = _login(client, alice).post(reverse("jobs:resubmit", args=[job.pk]))
        assert response.status_code == 302
        job.refresh_from_db()
        assert job.status == JobStatus.PENDING
        assert JobEvent.objects.filter(job=job, reason="Resubmitted").exists()

    def test_it_refuses_a_running_job_with_a_message(self, client, alice, job):
        response = _login(client, alice).post(reverse("jobs:resubmit", args=[job.pk]), follow=True)
        assert "can be resubmitted" in response.content.decode()
        job.refresh_from_db()
        assert job.status == JobStatus.RUNNING

    def test_get_is_not_allowed(self, client, alice, job):
        response = _login(client, alice).get(reverse("jobs:resubmit", args=[job.pk]))
        assert response.status_code == 405


def test_base_layout_has_nav_csrf_header_and_local_htmx(client, alice, operator):
    body = _login(client, alice).get(reverse("jobs:list")).content.decode()
    assert 'hx-headers=\'{"x-csrftoken": "' in body
    assert "/static/js/htmx.min.js" in body and "unpkg" not in body and "cdn" not in body
    for href in (reverse("jobs:create"), reverse("clusters:list"), "/api/docs"):
        assert f'href="{href}"' in body
    assert reverse("admin:index") not in body
    assert f'action="{reverse("logout")}"' in body and ">alice<" in body
    body = _login(client, operator).get(reverse("jobs:list")).content.decode()
    assert f'href="{reverse("admin:index")}"' in body


def test_login_page_logs_in(client, alice):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert 'name="username"' in response.content.decode()
    response = client.post(reverse("login"), {"username": "alice", "password": "alice-pass-123"})
    assert response.status_code == 302
    assert response["Location"] == reverse("jobs:list")


def _request_leaf_paths(node, path=""):
    for key, sub in node.properties.items():
        sub_path = f"{path}.{key}" if path else key
        if sub.type == "object" and sub.properties:
            yield from _request_leaf_paths(sub, sub_path)
        else:
            yield sub_path


def test_the_form_offers_every_request_field_with_the_definitions_limits(operator, cluster):
    from jobs import specs
    from jobs.forms import FIELD_PATHS

    form = JobForm(user=operator)  # an operator types the namespace: a text input
    # Hyperparameters have their own inputs (the framework's Param schema); labels have none.
    assert set(FIELD_PATHS.values()) == set(_request_leaf_paths(specs.REQUEST)) - {
        "hyperparameters",
        "labels",
    }
    for name, path in FIELD_PATHS.items():
        spec = specs.request_field(path)
        field = form.fields[name]
        attrs = field.widget.attrs
        if spec.type in ("integer", "number"):
            assert attrs["min"] == str(spec.minimum), name
            assert attrs.get("max") == (None if spec.maximum is None else str(spec.maximum))
        if spec.type == "string" and spec.max_length is not None:
            assert attrs["maxlength"] == spec.max_length, name
        if spec.enum:
            assert {value for value, _ in field.choices} - {""} == set(spec.enum), name


def test_a_flood_of_errors_gives_a_short_form(client, alice, cluster, monkeypatch):
    def refuse(*, user, data):
        raise SpecError({f"unknown{i}": ["Unknown field."] for i in range(10_000)})

    monkeypatch.setattr(services, "job_create", refuse)
    response = _login(client, alice).post(reverse("jobs:create"), valid_post())

    errors = response.context["form"].non_field_errors()
    assert len(errors) == 51  # 50 problems, and the note that the rest are not shown
    assert "9950 more problems are not shown" in errors[-1]
