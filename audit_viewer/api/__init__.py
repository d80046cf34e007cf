"""The platform client and its errors (the contract is ``shared/platform-api.md``)."""

from audit_viewer.api.client import Page, PlatformClient, check_base_url
from audit_viewer.api.errors import (
    AuthenticationError,
    BadRequestError,
    EndlessPagingError,
    InsecureURLError,
    MalformedResponseError,
    PermissionDeniedError,
    PlatformError,
    RequestAborted,
    ServerUnavailableError,
)

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "EndlessPagingError",
    "InsecureURLError",
    "MalformedResponseError",
    "Page",
    "PermissionDeniedError",
    "PlatformClient",
    "PlatformError",
    "RequestAborted",
    "ServerUnavailableError",
    "check_base_url",
]
