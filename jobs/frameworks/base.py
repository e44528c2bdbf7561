"""The pieces every framework module is made of: typed hyperparameters and the workload shape.

Pure data and checks: no database, no network, no Django settings. ``jobs.specs`` and the
form use ``Param`` for validation and help text; ``jobs.manifests`` uses ``Framework`` for
the Kubernetes kind, replica layout, container and port names.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from jobs.exceptions import SpecError

ParamType = Literal["int", "float", "str", "bool", "choice"]
Layout = Literal["chief_workers", "master_workers", "workers", "launcher_workers"]

# Custom images may take extra hyperparameters; their names end up as `--name=value`
# arguments and JSON keys, so keep them to what a command line parser can take.
# Applied with fullmatch: the whole name, no trailing newline.
EXTRA_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
MAX_STR_LEN = 256
# Extra hyperparameters a custom algorithm may pass beyond its framework's schema. A cap
# keeps validation (and the error answer) proportional to a real request, not to the body.
MAX_EXTRA_HYPERPARAMETERS = 100
# Text values end up as command-line arguments and in environment variables: a newline or
# another control character there splits or corrupts what the training script reads.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages a REST client understands."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def fmt_number(value: float | int) -> str:
    """Short and exact for help texts: 0.0 -> "0", 1000000 -> "1000000", 1e-06 -> "1e-06"."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def render_value(value: Any) -> str:
    """How a hyperparameter value is written on a command line: JSON-like scalars, so a
    boolean is ``true``/``false`` whatever language reads it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


@dataclass(frozen=True)
class Param:
    """One hyperparameter of a framework's schema."""

    name: str
    type: ParamType
    default: Any | None
    required: bool = False
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""

    def describe(self) -> str:
        """Short human text of type, range and default, e.g. "float in [0, 1], default 0.3"."""
        if self.type == "choice":
            text = "one of " + ", ".join(self.choices)
            sep = ";"
        else:
            text = {"int": "int", "float": "float", "str": "text", "bool": "true/false"}[self.type]
            text += self._range_text()
            sep = ","
        if self.required:
            return f"{text}{sep} required"
        if self.default is None:
            return f"{text}{sep} optional"
        default = self.default
        shown = fmt_number(default) if self.type in ("int", "float") else render_value(default)
        return f"{text}{sep} default {shown}"

    def _range_text(self) -> str:
        lo, hi = self.min, self.max
        if lo is not None and hi is not None:
            left = "(" if self.min_exclusive else "["
            right = ")" if self.max_exclusive else "]"
            return f" in {left}{fmt_number(lo)}, {fmt_number(hi)}{right}"
        if lo is not None:
            return f" {'>' if self.min_exclusive else '≥'} {fmt_number(lo)}"
        if hi is not None:
            return f" {'<' if self.max_exclusive else '≤'} {fmt_number(hi)}"
        return ""

    def check(self, value: Any) -> tuple[Any, str | None]:
        """(normalized value, None) or (None, reason). Types are strict: "3" is not an int,
        a JSON boolean is not a number; an int is a fine float (and becomes one)."""
        if self.type == "bool":
            if not isinstance(value, bool):
                return None, f"Expected true or false, got {json_type(value)}."
            return value, None
        if self.type == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, float) and value.is_integer():
                    return None, f"Expected an integer, got {fmt_number(value)} (a number)."
                return None, f"Expected an integer, got {json_type(value)}."
            return self._ranged(value)
        if self.type == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return None, f"Expected a number, got {json_type(value)}."
            if isinstance(value, float) and not math.isfinite(value):
                return None, "Expected a finite number."
            return self._ranged(float(value))
        if not isinstance(value, str):
            return None, f"Expected a string, got {json_type(value)}."
        if self.type == "choice":
            if value not in self.choices:
                return None, f"Must be one of: {', '.join(self.choices)}."
            return value, None
        if not value.strip():
            return None, "Must not be empty."
        if len(value) > MAX_STR_LEN:
            return None, f"Must be at most {MAX_STR_LEN} characters."
        if _CONTROL_RE.search(value):
            return None, "Must not contain line breaks or other control characters."
        return value, None

    def _ranged(self, value: float) -> tuple[Any, str | None]:
        reason = self._range_problem(value)
        return (None, reason) if reason else (value, None)

    def _range_problem(self, value: float) -> str | None:
        if self.min is not None:
            if self.min_exclusive and value <= self.min:
                return f"Must be greater than {fmt_number(self.min)}."
            if not self.min_exclusive and value < self.min:
                return f"Must be at least {fmt_number(self.min)}."
        if self.max is not None:
            if self.max_exclusive and value >= self.max:
                return f"Must be less than {fmt_number(self.max)}."
            if not self.max_exclusive and value > self.max:
                return f"Must be at most {fmt_number(self.max)}."
        return None


@dataclass(frozen=True)
class Resources:
    """What a cross-field rule may know about the job's instances. The form validates
    hyperparameters before the resources are known; rules then skip resource checks."""

    gpu_count: int
    instance_count: int
    volume_size_gb: int


# A rule gets the merged values (defaults filled, invalid values left out) and the resources
# when known, and returns (param name, reason) pairs.
Rule = Callable[[Mapping[str, Any], "Resources | None"], list[tuple[str, str]]]


@dataclass(frozen=True)
class Framework:
    name: str
    label: str
    kind: str
    api_version: str  # "kubeflow.org/v1" or "kubeflow.org/v2beta1"
    plural: str
    container_name: str
    # None for MPIJob: the mpi-operator talks ssh to workers and needs no named port.
    port_name: str | None
    default_port: int | None
    params: tuple[Param, ...]
    layout: Layout = "master_workers"
    replica_specs_key: str = ""
    # True where the operator's design needs root in the pods (see workloads.MPIJOB); the
    # others run under the restricted Pod Security Standard.
    runs_as_root: bool = False
    rules: tuple[Rule, ...] = field(default=(), compare=False, repr=False)

    @property
    def group(self) -> str:
        return self.api_version.split("/", 1)[0]

    @property
    def version(self) -> str:
        return self.api_version.split("/", 1)[1]

    @property
    def is_mpi(self) -> bool:
        return self.layout == "launcher_workers"

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def replica_layout(self, instance_count: int) -> list[tuple[str, int]]:
        """Replica types and counts for ``instance_count`` training instances, in the order
        they appear in the manifest. An MPI launcher only runs ``mpirun`` and is not counted
        as an instance."""
        n = instance_count
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"instance_count must be a positive integer, got {n!r}")
        if self.layout == "chief_workers":
            # A lone TF worker is its own chief (worker 0 is chief in TF_CONFIG when there
            # is no Chief replica); a Chief with zero Workers would be an odd empty spec.
            return [("Worker", 1)] if n == 1 else [("Chief", 1), ("Worker", n - 1)]
        if self.layout == "master_workers":
            # The operators' webhooks require exactly one Master; no Worker key when n == 1
            # because PyTorchJob refuses Worker replicas < 1.
            return [("Master", 1)] if n == 1 else [("Master", 1), ("Worker", n - 1)]
        if self.layout == "workers":
            return [("Worker", n)]
        return [("Launcher", 1), ("Worker", n)]

    def validate_hyperparameters(
        self, values: Any, *, custom: bool, resources: Resources | None = None
    ) -> dict[str, Any]:
        """Check ``values`` against the schema and return them normalized, defaults filled.

        Raises ``SpecError`` with paths ``hyperparameters.<framework>.<name>``, every problem
        at once. Built-in algorithms accept only the schema's names; custom ones may add
        scalar extras, which are kept as given. ``resources`` enables the rules that depend
        on the instances (e.g. NCCL needs a GPU); without it those rules are skipped.
        """
        root = f"hyperparameters.{self.name}"
        if not isinstance(values, dict):
            raise SpecError({root: [f"Expected an object, got {json_type(values)}."]})
        known = {p.name for p in self.params}
        limit = len(known) + MAX_EXTRA_HYPERPARAMETERS
        if len(values) > limit:
            # Refused whole, before any name is looked at (each unknown one would cost a
            # fuzzy match for its "did you mean").
            raise SpecError(
                {root: [f"At most {limit} hyperparameters for {self.label}. Got {len(values)}."]}
            )
        errors: dict[str, list[str]] = {}
        merged: dict[str, Any] = {}
        for p in self.params:
            # null means "not given": the default applies, as it does for a missing key.
            value = values.get(p.name)
            if value is None:
                if p.required:
                    errors.setdefault(f"{root}.{p.name}", []).append("This field is required.")
                elif p.default is not None:
                    merged[p.name] = p.default
                continue
            normalized, reason = p.check(value)
            if reason:
                errors.setdefault(f"{root}.{p.name}", []).append(reason)
            else:
                merged[p.name] = normalized
        extras: dict[str, Any] = {}
        for name in sorted(k for k in values if k not in known):
            path = f"{root}.{name}"
            value = values[name]
            if not custom:
                hint = difflib.get_close_matches(name, sorted(known), n=1)
                reason = f"Unknown {self.label} hyperparameter."
                if hint:
                    reason += f" Did you mean '{hint[0]}'?"
                else:
                    reason += " Custom algorithms (source 'custom') may pass their own."
                errors.setdefault(path, []).append(reason)
            elif not EXTRA_NAME_RE.fullmatch(name):
                errors.setdefault(path, []).append(
                    "Names must start with a letter or '_' and hold only letters, digits, "
                    "'_', '.' and '-' (at most 64 characters)."
                )
            elif isinstance(value, dict | list) or value is None:
                errors.setdefault(path, []).append(
                    f"Expected a string, number or boolean, got {json_type(value)}."
                )
            elif isinstance(value, float) and not math.isfinite(value):
                errors.setdefault(path, []).append("Expected a finite number.")
            elif isinstance(value, str) and _CONTROL_RE.search(value):
                errors.setdefault(path, []).append(
                    "Must not contain line breaks or other control characters."
                )
            else:
                extras[name] = value
        refused = {path[len(root) + 1 :] for path in errors}
        for rule in self.rules:
            for name, reason in rule(merged, resources):
                # A value already refused for its type or range is not judged twice.
                if name in refused:
                    continue
                errors.setdefault(f"{root}.{name}", []).append(reason)
        if errors:
            raise SpecError(errors)
        return {**merged, **extras}
