"""Exception base of the API package. Route errors carry an HTTP status and a machine-readable code."""

from __future__ import annotations


class ApiError(Exception):
    """Base of every error raised by the ``api`` package.

    ``status`` and ``code`` are used when the error reaches an HTTP client: the body is
    ``{"error": {"code": ..., "message": ...}}``.
    """

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class NotFoundError(ApiError):
    status = 404
    code = "not_found"


class BadRequestError(ApiError):
    status = 400
    code = "bad_request"


class UnknownClassError(BadRequestError):
    """A review names a class its frame's product does not have."""

    code = "unknown_class"


class InvalidRequestError(ApiError):
    status = 422
    code = "invalid_request"


class ConflictError(ApiError):
    status = 409
    code = "conflict"


class UnauthorizedError(ApiError):
    status = 401
    code = "unauthorized"


class TokenExpiredError(UnauthorizedError):
    """A valid token past its expiry time; the message says when it expired."""

    code = "token_expired"


class ForbiddenError(ApiError):
    status = 403
    code = "forbidden"


class UpstreamError(ApiError):
    """A dependency (MLflow, Kafka) failed or is unreachable."""

    status = 503
    code = "upstream_unavailable"


class FrameStoreError(ApiError):
    """The frame store could not read or write a frame."""


class ProductCatalogError(ApiError):
    """The product catalog could not be read (a damaged record); the message names the file."""

    code = "product_catalog_error"


class MigrationError(ApiError):
    """The database schema could not be brought up to date."""


class InsecureSettingsError(ApiError):
    """A setting only acceptable on the local development stack (e.g. the placeholder token pepper) was
    used on a site; the message says which variable to set."""

    code = "insecure_settings"
