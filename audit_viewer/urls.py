"""The rule for a platform's base URL, with no dependencies of its own.

The HTTP client enforces it on every connection and the settings check it when a profile is
saved, so a profile can never hold a URL that a sync would then refuse. Keeping it here, not
in the client, lets the settings use it without importing requests (and the client without
the settings importing it back).
"""

from __future__ import annotations

from urllib.parse import urlsplit

#: Hosts that plain ``http://`` may reach: the traffic never leaves the machine.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class BadURLError(ValueError):
    """A base URL that must not be used: not a URL, with credentials, or plain http remotely."""


def check_base_url(url: str) -> str:
    """Validate a base URL and return it without a trailing slash.

    Only ``https://`` is accepted, except plain ``http://`` to a loopback host.
    """
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        parts, host = None, None
    if parts is None or not host or parts.scheme.lower() not in ("http", "https"):
        raise BadURLError(
            f"{url!r} is not a platform URL; it must look like https://api.example.com."
        )
    scheme = parts.scheme.lower()
    if parts.username or parts.password:
        raise BadURLError("The platform URL must not contain a user name or password.")
    if scheme == "http" and host not in LOOPBACK_HOSTS:
        raise BadURLError(
            f"Refusing plain http:// for {host}: the secret and the audit log would cross the "
            "network unencrypted. Use https:// (http:// is allowed only for 127.0.0.1, ::1 "
            "and localhost)."
        )
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"
