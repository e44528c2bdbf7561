"""Forms for the HTMX pages.

The job form only collects typed inputs: it builds the same camelCase request dict the API
takes and hands it to ``jobs.services.job_create``, which is the one validator for both. The
inputs themselves (type, HTML bounds, length, choices, defaults, help) are derived from the
request's one definition, ``jobs.specs.REQUEST``, through ``FIELD_PATHS``; the ``SpecError``
paths the service raises are mapped back onto the inputs through the same table, so a
refused value is shown next to its input and everything typed stays in place.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse

from clusters.models import MemberCluster
from clusters.selectors import cluster_list
from jobs import specs
from jobs.exceptions import SpecError
from jobs.frameworks import FRAMEWORKS, get_framework
from jobs.models import AlgorithmSource, FailureClass, JobStatus
from jobs.selectors import namespace_suggestions, visible_namespaces

__all__ = ["FIELD_PATHS", "HP_PREFIX", "JobFilterForm", "JobForm", "namespace_suggestions"]

HP_PREFIX = "hp__"

# Form input -> the request path it fills (and that SpecError reports it under).
# Hyperparameters are handled apart, from the framework's Param schema.
FIELD_PATHS = {
    "job_name": "jobName",
    "namespace": "namespace",
    "framework": "algorithm.framework",
    "algorithm_source": "algorithm.source",
    "algorithm_name": "algorithm.algorithmName",
    "image": "algorithm.image",
    "command": "algorithm.command",
    "cpu_cores": "resources.instanceResources.cpuCores",
    "memory_gib": "resources.instanceResources.memoryGiB",
    "gpu_count": "resources.instanceResources.gpuCount",
    "instance_count": "resources.instanceCount",
    "volume_size_gb": "resources.volumeSizeGB",
    "target_clusters": "targetClusters",
    "active_deadline_seconds": "runPolicy.activeDeadlineSeconds",
    "backoff_limit": "runPolicy.backoffLimit",
    "ttl_seconds_after_finished": "runPolicy.ttlSecondsAfterFinished",
    "clean_pod_policy": "runPolicy.cleanPodPolicy",
    "priority": "priority",
}
# Request path (as SpecError reports it) -> form input; a problem with the whole algorithm
# object is shown on the framework, its first input.
PATH_TO_FIELD = {path: name for name, path in FIELD_PATHS.items()} | {"algorithm": "framework"}

# Values the form starts with: the request's defaults, except that CPU and memory have none
# (the request must say) and the form starts from a small job.
RESOURCE_INITIAL = {
    "cpu_cores": 1,
    "memory_gib": 2,
    **{
        name: specs.request_field(FIELD_PATHS[name]).default
        for name in ("gpu_count", "instance_count", "volume_size_gb")
    },
}


def request_input(
    name: str, label: str, *, hint: str | None = None, attrs: dict[str, Any] | None = None
) -> forms.Field:
    """An input for the request field ``FIELD_PATHS[name]``: its type, HTML bounds and help
    come from the definition; ``hint`` replaces the definition's help sentence where the
    page needs other words. Never required: the service says what is missing."""
    spec = specs.request_field(FIELD_PATHS[name])
    widget_attrs: dict[str, Any] = dict(attrs or {})
    help_text = spec.describe()
    if FIELD_PATHS[name].startswith("runPolicy."):
        help_text = f"{FIELD_PATHS[name].rsplit('.', 1)[1]}: {help_text}"
    sentence = spec.help if hint is None else hint
    if sentence:
        help_text = f"{help_text}; {sentence[0].lower()}{sentence[1:]}"
    if spec.type == "string":
        if spec.max_length is not None:
            widget_attrs.setdefault("maxlength", spec.max_length)
        return forms.CharField(
            label=label,
            required=False,
            help_text=help_text,
            widget=forms.TextInput(attrs=widget_attrs),
        )
    widget_attrs["step"] = "1" if spec.type == "integer" else "any"
    if spec.minimum is not None:
        widget_attrs["min"] = str(spec.minimum)
    if spec.maximum is not None:
        widget_attrs["max"] = str(spec.maximum)
    field_class = forms.IntegerField if spec.type == "integer" else forms.FloatField
    return field_class(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.NumberInput(attrs=widget_attrs),
    )


def request_choices(name: str, labels: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The allowed values of the request field ``FIELD_PATHS[name]``, labelled."""
    labels = labels or {}
    return [(v, labels.get(v, v)) for v in specs.request_field(FIELD_PATHS[name]).enum]


REPLICA_LAYOUTS = {
    "chief_workers": "Chief 1 + Worker n-1 (one instance: a single Worker)",
    "master_workers": "Master 1 + Worker n-1",
    "workers": "Worker n",
    "launcher_workers": "Launcher 1 + Worker n (the launcher only runs mpirun)",
}


def default_framework() -> str:
    return next(iter(FRAMEWORKS))


def framework_params(framework: str) -> list[Any]:
    """The framework's parameters in schema order (``params`` may be a list or a dict)."""
    params = get_framework(framework).params
    return list(params.values()) if isinstance(params, dict) else list(params)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def describe(param: Any) -> str:
    """``Param.describe()``, except that a long list of choices is left to the select that
    shows them anyway."""
    choices = param.choices or ()
    if param.type == "choice" and len(choices) > 6:
        text = f"one of {len(choices)} values"
        if param.required:
            return f"{text}; required"
        if param.default is None:
            return f"{text}; optional"
        return f"{text}; default {param.default}"
    return param.describe()


def param_field(param: Any) -> forms.Field:
    """A typed, unvalidated input for one hyperparameter: the HTML attributes carry the
    schema (type, bounds, default) as hints; the service decides what is valid."""
    attrs: dict[str, Any] = {}
    if param.default is not None and param.type != "bool":
        attrs["placeholder"] = _fmt(param.default)
    if param.type in ("int", "float"):
        attrs["step"] = "1" if param.type == "int" else "any"
        if param.min is not None:
            attrs["min"] = _fmt(param.min)
        if param.max is not None:
            attrs["max"] = _fmt(param.max)
    common = {
        "required": False,
        "initial": param.default,
        "label": param.name,
        "help_text": getattr(param, "help", "") or "",
    }
    field: forms.Field
    if param.type == "int":
        field = forms.IntegerField(widget=forms.NumberInput(attrs=attrs), **common)
    elif param.type == "float":
        field = forms.FloatField(widget=forms.NumberInput(attrs=attrs), **common)
    elif param.type == "bool":
        field = forms.BooleanField(**common)
    elif param.type == "choice":
        choices = [(c, _fmt(c)) for c in (param.choices or [])]
        if param.default is None:
            choices.insert(0, ("", "—"))
        field = forms.ChoiceField(choices=choices, **common)
    else:
        field = forms.CharField(widget=forms.TextInput(attrs=attrs), **common)
    # Extra attributes the templates and ``JobForm._is_optional`` read off the field; Django's
    # field classes declare none of them.
    field.param = param  # type: ignore[union-attr]
    field.describe = describe(param)  # type: ignore[union-attr]
    field.is_required_param = bool(getattr(param, "required", False))  # type: ignore[union-attr]
    return field


def _choice_field(form: forms.Form, name: str) -> forms.ChoiceField:
    """``form.fields[name]`` as the choice field it was declared as: ``Form.fields`` holds
    copies of the declared fields but is typed as plain ``Field``s, which have no choices."""
    field = form.fields[name]
    if not isinstance(field, forms.ChoiceField):
        raise TypeError(f"{type(form).__name__}.{name} is not a ChoiceField")
    return field


class JobForm(forms.Form):
    job_name = request_input(
        "job_name",
        "Job name",
        attrs={
            "autocomplete": "off",
            "spellcheck": "false",
            "placeholder": "e.g. xgboost-training",
        },
    )
    namespace = forms.CharField(label="Namespace", required=False)
    framework = forms.ChoiceField(label="Framework", choices=())
    algorithm_source = forms.ChoiceField(
        label="Source",
        choices=request_choices("algorithm_source", dict(AlgorithmSource.choices)),
        initial=specs.request_field(FIELD_PATHS["algorithm_source"]).default,
        widget=forms.RadioSelect,
    )
    algorithm_name = request_input(
        "algorithm_name", "Algorithm name", hint="A label for your custom algorithm."
    )
    image = request_input(
        "image",
        "Container image",
        hint="Custom source only, and required there.",
        attrs={"placeholder": "registry.example.com/team/train:1.0", "spellcheck": "false"},
    )
    command = forms.CharField(
        label="Command",
        required=False,
        help_text="optional: replaces the image's entrypoint; split like a shell would "
        f"(at most {specs.request_field(FIELD_PATHS['command']).max_items} words)",
        widget=forms.TextInput(attrs={"placeholder": "python train.py", "spellcheck": "false"}),
    )
    cpu_cores = request_input("cpu_cores", "CPU cores")
    memory_gib = request_input("memory_gib", "Memory (GiB)")
    gpu_count = request_input("gpu_count", "GPUs")
    instance_count = request_input("instance_count", "Instances")
    volume_size_gb = request_input("volume_size_gb", "Volume (GB)")
    target_clusters = forms.MultipleChoiceField(
        label="Target clusters",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None chosen: any ready cluster with room for the job.",
    )
    active_deadline_seconds = request_input(
        "active_deadline_seconds", "Max run time (s)", attrs={"placeholder": "no limit"}
    )
    backoff_limit = request_input("backoff_limit", "Retries", attrs={"placeholder": "default"})
    ttl_seconds_after_finished = request_input(
        "ttl_seconds_after_finished",
        "Keep after finish (s)",
        attrs={"placeholder": "until deleted"},
    )
    # Labels have no input of their own; "Run again" carries the job's labels through.
    labels_json = forms.CharField(required=False, widget=forms.HiddenInput)
    clean_pod_policy = forms.ChoiceField(
        label="Clean pods",
        choices=[("", "Operator default"), *request_choices("clean_pod_policy")],
        required=False,
        help_text="cleanPodPolicy: which pods to delete when the job finishes",
    )

    priority = forms.ChoiceField(
        label="Priority",
        choices=(),
        required=False,
        help_text="Higher priorities are admitted first when quota or cluster room is short",
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        # The operator's priorities (JOB_PRIORITIES), highest first.
        _choice_field(self, "priority").choices = [(p, p) for p in settings.JOB_PRIORITIES]
        self.fields["priority"].initial = specs.request_field("priority").default
        _choice_field(self, "framework").choices = request_choices(
            "framework", {f.name: f.label for f in FRAMEWORKS.values()}
        )
        for name, value in RESOURCE_INITIAL.items():
            self.fields[name].initial = value
            self.fields[name].widget.attrs.setdefault("placeholder", _fmt(value))

        allowed = visible_namespaces(user=user)
        self.namespace_is_free_text = allowed is None
        if allowed is None:
            # Operators may use any namespace: free text, with the known ones suggested.
            self.namespace_suggestions = namespace_suggestions()
            self.fields["namespace"].widget = forms.TextInput(
                attrs={
                    "maxlength": specs.request_field("namespace").max_length,
                    "list": "namespace-suggestions",
                    "spellcheck": "false",
                    "autocomplete": "off",
                }
            )
        else:
            self.namespace_suggestions = []
            choices = [(ns, ns) for ns in sorted(allowed)]
            self.fields["namespace"].widget = forms.Select(choices=choices)
            if choices:
                self.fields["namespace"].initial = choices[0][0]

        clusters: QuerySet[MemberCluster] = cluster_list()
        self.clusters = list(clusters)
        _choice_field(self, "target_clusters").choices = [(c.name, c.name) for c in self.clusters]

        # The chosen framework's name, kept apart from the declared field ``framework``
        # (which is also what ``form.framework`` means in a template: the bound field).
        self.selected_framework = self._selected_framework()
        self.fields["framework"].initial = self.selected_framework
        # Switching framework swaps only the hyperparameter fieldset; the rest stays typed.
        self.fields["framework"].widget.attrs.update(
            {
                "hx-get": reverse("jobs:hyperparameters"),
                "hx-trigger": "change",
                "hx-target": "#hyperparameters",
                "hx-swap": "outerHTML",
                "hx-include": "this",
            }
        )
        self.hp_names: list[str] = []
        for param in framework_params(self.selected_framework):
            self.fields[HP_PREFIX + param.name] = param_field(param)
            self.hp_names.append(param.name)

    def _selected_framework(self) -> str:
        if self.is_bound:
            value = self.data.get(self.add_prefix("framework"))
        else:
            value = self.initial.get("framework")
        return value if value in FRAMEWORKS else default_framework()

    # --- template helpers -----------------------------------------------------------------
    @property
    def hyperparameter_fields(self) -> list[forms.BoundField]:
        return [self[HP_PREFIX + name] for name in self.hp_names]

    @staticmethod
    def _is_optional(field: forms.BoundField) -> bool:
        # No default and not required: the framework decides unless the user does.
        param = field.field.param  # type: ignore[attr-defined]
        return param.default is None and not param.required

    @property
    def main_hyperparameter_fields(self) -> list[forms.BoundField]:
        return [f for f in self.hyperparameter_fields if not self._is_optional(f)]

    @property
    def optional_hyperparameter_fields(self) -> list[forms.BoundField]:
        return [f for f in self.hyperparameter_fields if self._is_optional(f)]

    @property
    def optional_hyperparameters_open(self) -> bool:
        """Keep the optional ones in view once one of them holds a value or an error."""
        return any(
            f.errors or f.value() not in (None, "", False)
            for f in self.optional_hyperparameter_fields
        )

    @property
    def framework_label(self) -> str:
        return get_framework(self.selected_framework).label

    @property
    def replica_layout(self) -> str:
        """How the framework turns instances into replicas, next to the instance count."""
        layout = getattr(get_framework(self.selected_framework), "layout", "")
        return REPLICA_LAYOUTS.get(layout, "")

    @property
    def builtin_image(self) -> str:
        return settings.DEFAULT_IMAGES.get(self.selected_framework, "")

    @property
    def cluster_options(self) -> list[dict[str, Any]]:
        """One entry per known cluster for the checkbox list: ready ones can be chosen, the
        others are shown disabled with Karmada's reason."""
        field = self["target_clusters"]
        selected = set(field.value() or [])
        return [
            {
                "cluster": c,
                "checked": c.name in selected,
                "disabled": not c.ready,
                "id": f"id_target_clusters_{i}",
            }
            for i, c in enumerate(self.clusters)
        ]

    @property
    def run_policy_fields(self) -> list[forms.BoundField]:
        names = (
            "active_deadline_seconds",
            "backoff_limit",
            "ttl_seconds_after_finished",
            "clean_pod_policy",
        )
        return [self[n] for n in names]

    @property
    def run_policy_open(self) -> bool:
        """Keep the optional run-policy section open when it holds a value or an error."""
        names = (
            "active_deadline_seconds",
            "backoff_limit",
            "ttl_seconds_after_finished",
            "clean_pod_policy",
        )
        return any(self[n].value() not in (None, "") or self[n].errors for n in names)

    # --- request building -----------------------------------------------------------------
    def clean_command(self) -> list[str]:
        raw = self.cleaned_data.get("command") or ""
        try:
            return shlex.split(raw)
        except ValueError as exc:
            raise forms.ValidationError(f"Cannot split the command: {exc}.") from exc

    def to_request(self) -> dict[str, Any]:
        """The API request body for what was typed; empty inputs are left out so the
        service applies its defaults or says what is missing."""
        cd = self.cleaned_data
        framework = cd["framework"]
        algorithm: dict[str, Any] = {"source": cd["algorithm_source"], "framework": framework}
        if cd["algorithm_source"] == AlgorithmSource.CUSTOM:
            algorithm["algorithmName"] = cd.get("algorithm_name") or framework
            algorithm["image"] = cd.get("image") or ""
            if cd.get("command"):
                algorithm["command"] = cd["command"]
        else:
            algorithm["algorithmName"] = framework

        instance = _present(
            {
                "cpuCores": cd.get("cpu_cores"),
                "memoryGiB": cd.get("memory_gib"),
                "gpuCount": cd.get("gpu_count"),
            }
        )
        # instanceResources goes even when empty, so that a missing CPU or memory value is
        # reported on its own field rather than on the whole object.
        resources = {
            "instanceResources": instance,
            **_present(
                {
                    "instanceCount": cd.get("instance_count"),
                    "volumeSizeGB": cd.get("volume_size_gb"),
                }
            ),
        }
        hyperparameters = _present({name: cd.get(HP_PREFIX + name) for name in self.hp_names})
        data: dict[str, Any] = {
            "jobName": cd.get("job_name") or "",
            "namespace": cd.get("namespace") or "",
            "algorithm": algorithm,
            "resources": resources,
            "hyperparameters": {framework: hyperparameters},
            "targetClusters": list(cd.get("target_clusters") or []),
        }
        run_policy = _present(
            {
                "activeDeadlineSeconds": cd.get("active_deadline_seconds"),
                "backoffLimit": cd.get("backoff_limit"),
                "ttlSecondsAfterFinished": cd.get("ttl_seconds_after_finished"),
                "cleanPodPolicy": cd.get("clean_pod_policy"),
            }
        )
        if run_policy:
            data["runPolicy"] = run_policy
        if cd.get("priority"):
            data["priority"] = cd["priority"]
        if cd.get("labels_json"):
            data["labels"] = cd["labels_json"]
        return data

    def clean_labels_json(self) -> Any:
        raw = self.cleaned_data.get("labels_json") or ""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise forms.ValidationError("The labels could not be read.") from None

    @staticmethod
    def initial_from_job(job: Any, *, name: str) -> dict[str, Any]:
        """The inputs filled in with ``job``'s request ("Run again"), named ``name``."""
        body = specs.request_from_job(job)
        algorithm, resources = body["algorithm"], body["resources"]
        instance = resources["instanceResources"]
        run_policy = body.get("runPolicy") or {}
        initial: dict[str, Any] = {
            "job_name": name,
            "namespace": body["namespace"],
            "framework": algorithm["framework"],
            "algorithm_source": algorithm["source"],
            "algorithm_name": algorithm["algorithmName"]
            if algorithm["source"] == AlgorithmSource.CUSTOM
            else "",
            "image": algorithm.get("image", ""),
            "command": shlex.join(algorithm.get("command") or []),
            "cpu_cores": instance["cpuCores"],
            "memory_gib": instance["memoryGiB"],
            "gpu_count": instance["gpuCount"],
            "instance_count": resources["instanceCount"],
            "volume_size_gb": resources["volumeSizeGB"],
            "target_clusters": body["targetClusters"],
            "active_deadline_seconds": run_policy.get("activeDeadlineSeconds"),
            "backoff_limit": run_policy.get("backoffLimit"),
            "ttl_seconds_after_finished": run_policy.get("ttlSecondsAfterFinished"),
            "clean_pod_policy": run_policy.get("cleanPodPolicy", ""),
            "labels_json": json.dumps(body["labels"]) if body.get("labels") else "",
        }
        for param_name, value in (job.hyperparameters or {}).items():
            initial[HP_PREFIX + param_name] = value
        return initial

    def add_spec_errors(self, error: SpecError) -> None:
        """Show each refused path next to its input; anything without one goes on top."""
        hp_root = f"hyperparameters.{self.selected_framework}."
        # The same bounded view the API answers with: a hostile POST gets a short page too.
        message, fields = error.bounded()
        for path, reasons in fields.items():
            field = PATH_TO_FIELD.get(path)
            if field is None and path.startswith("targetClusters"):
                field = "target_clusters"
            if field is None and path.startswith(hp_root):
                name = path[len(hp_root) :]
                if name in self.hp_names:
                    field = HP_PREFIX + name
            for reason in reasons:
                if field is not None and field in self.fields:
                    self.add_error(field, reason)
                else:
                    self.add_error(None, f"{path}: {reason}" if path else reason)
        if not fields or message != error.message:
            self.add_error(None, message)


def _present(values: dict[str, Any]) -> dict[str, Any]:
    """Drop inputs left empty (None or ""), keep 0 and False."""
    return {k: v for k, v in values.items() if v is not None and v != ""}


class JobFilterForm(forms.Form):
    """The list page's filters, as a GET form."""

    search = forms.CharField(
        required=False,
        label="Search",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Job name…", "autocomplete": "off"}
        ),
    )
    status = forms.ChoiceField(required=False, label="Status", choices=())
    framework = forms.ChoiceField(required=False, label="Framework", choices=())
    namespace = forms.ChoiceField(required=False, label="Namespace", choices=())
    failure_class = forms.ChoiceField(required=False, label="Failure", choices=())

    def __init__(self, *args: Any, user: Any, namespaces: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "status").choices = [("", "Any status"), *JobStatus.choices]
        _choice_field(self, "framework").choices = [
            ("", "Any framework"),
            *[(f.name, f.label) for f in FRAMEWORKS.values()],
        ]
        _choice_field(self, "namespace").choices = [
            ("", "Any namespace"),
            *[(n, n) for n in namespaces],
        ]
        _choice_field(self, "failure_class").choices = [
            ("", "Any failure"),
            *FailureClass.choices,
        ]

    def filters(self) -> dict[str, str]:
        """Valid filters only: an unknown value is ignored rather than listing nothing."""
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v}

    @property
    def active(self) -> bool:
        return bool(self.filters())
