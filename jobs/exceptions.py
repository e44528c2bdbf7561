from __future__ import annotations

# What one error answer may hold, whatever the request: a body of 600k bad names must give
# a short answer, not one as large as itself.
MAX_ERROR_FIELDS = 50
MAX_REASONS_PER_FIELD = 5
# Our reasons quote user values shortened (jobs.specs._shown); this is the backstop. It is
# long enough for a placement refusal that names what each candidate cluster lacks.
MAX_REASON_CHARS = 1000
MAX_PATH_CHARS = 200


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
        omitted: int = 0,
    ) -> None:
        super().__init__(message)
        self.fields = fields
        self.message = message
        self.status_code = status_code
        # Problems found but not kept in ``fields`` (the validator stops collecting early).
        self.omitted = omitted

    def bounded(self) -> tuple[str, dict[str, list[str]]]:
        """(message, fields) cut to a fixed size: at most ``MAX_ERROR_FIELDS`` paths and
        ``MAX_REASONS_PER_FIELD`` reasons each, long paths and reasons shortened; the
        message says how many problems are not shown."""
        fields: dict[str, list[str]] = {}
        dropped = self.omitted
        for path, reasons in self.fields.items():
            if not isinstance(reasons, list | tuple):
                reasons = [reasons]
            reasons = [str(r) for r in reasons]
            if len(fields) >= MAX_ERROR_FIELDS:
                dropped += len(reasons)
                continue
            kept = [_shorten(r, MAX_REASON_CHARS) for r in reasons[:MAX_REASONS_PER_FIELD]]
            dropped += len(reasons) - len(kept)
            fields.setdefault(_shorten(str(path), MAX_PATH_CHARS), []).extend(kept)
        message = self.message
        if dropped:
            message = f"{message} {dropped} more problems are not shown; fix these first."
        return message, fields

    def __str__(self) -> str:
        details = "; ".join(f"{path}: {' '.join(reasons)}" for path, reasons in self.fields.items())
        return f"{self.message} {details}".strip()


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class JobStateError(Exception):
    """An action does not fit the job's current status (e.g. resubmitting a running job)."""


class PodNotFound(Exception):
    """The pod is not one of the job's: it never was, or it is gone. Pages and the API answer
    404 either way, so a pod name cannot be used to read another job's logs."""
