"""Typed errors of the platform client.

Every message is a sentence an administrator can act on, because the command line prints
``str(error)`` as its one-line error and the window shows it in a dialog. No message ever
holds the client secret or an access token.
"""

from __future__ import annotations


class PlatformError(Exception):
    """Base of everything the platform client raises on purpose."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: The HTTP status behind the error, when there was one.
        self.status = status

    def __str__(self) -> str:
        return self.message


class AuthenticationError(PlatformError):
    """Bad client credentials, or a token refused again right after a fresh login."""


class PermissionDeniedError(PlatformError):
    """403: the API client is not an administrator, or the audit log is not enabled."""


class BadRequestError(PlatformError):
    """400: the platform rejected a parameter; carries the server's own message."""

    def __init__(self, message: str, *, server_message: str = "", status: int = 400) -> None:
        super().__init__(message, status=status)
        self.server_message = server_message


class ServerUnavailableError(PlatformError):
    """Unreachable, timed out, or still 429/5xx after the retries ran out."""


class MalformedResponseError(PlatformError):
    """The answer breaks the contract: not JSON, wrong shapes, or an unexpected status."""


class InsecureURLError(PlatformError, ValueError):
    """A base URL the client refuses: not https, except plain http on a loopback host."""


class EndlessPagingError(MalformedResponseError):
    """The platform kept handing out cursors for a range without ever finishing it."""


class RequestAborted(PlatformError):
    """A request abandoned on purpose (the sync was cancelled); not a failure of the platform."""
