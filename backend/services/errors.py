"""What a service refuses, by kind; the API turns each kind into its status code once
(backend.api.create_app), so services know nothing of HTTP and routes need no try/except."""
from __future__ import annotations

from pydantic import ValidationError


class ServiceError(Exception):
    """A refusal whose message is the one line the user sees."""


class NotFound(ServiceError):
    """No such job, experiment, upload, ... (404)."""


class Conflict(ServiceError):
    """The thing exists but is in the wrong state for this action (409)."""


class Rejected(ServiceError, ValueError):
    """Well formed, but this server cannot do it: the message names the valid choices (400)."""


class TooLarge(ServiceError, ValueError):
    """Over a size limit of this server (413)."""


class InvalidSpec(ServiceError):
    """A spec built from a dict (a grid point, a follow-up) that JobSpec refuses (422), its
    errors located under `prefix` in the request body."""

    def __init__(self, error: ValidationError, prefix: tuple = ("body",)):
        super().__init__(str(error))
        self.errors = [{**e, "loc": (*prefix, *e["loc"])}
                       for e in error.errors(include_url=False, include_context=False)]
