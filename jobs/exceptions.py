from __future__ import annotations


class SpecError(Exception):
    """A job request (API body or form) is invalid.

    ``fields`` maps the request's dotted camelCase path (``resources.instanceResources.cpuCores``,
    ``hyperparameters.xgboost.eta``, ``targetClusters``) to the reasons it was refused. The API
    answers it as 400 (or ``status_code``); the form shows each reason next to its field.
    """

    def __init__(
        self,
        fields: dict[str, list[str]],
        message: str = "The job specification is invalid.",
        status_code: int = 400,
    ) -> None:
        super().__init__(message)
        self.fields = fields
        self.message = message
        self.status_code = status_code

    def __str__(self) -> str:
        details = "; ".join(f"{path}: {' '.join(reasons)}" for path, reasons in self.fields.items())
        return f"{self.message} {details}".strip()


class JobStateError(Exception):
    """An action does not fit the job's current status (e.g. resubmitting a running job)."""


class PodNotFound(Exception):
    """The pod is not one of the job's: it never was, or it is gone. Pages and the API answer
    404 either way, so a pod name cannot be used to read another job's logs."""
