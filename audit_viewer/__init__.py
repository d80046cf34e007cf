"""audit-viewer: a desktop viewer and long-term archive for the platform's audit trail."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("audit-viewer")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
