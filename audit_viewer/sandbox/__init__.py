"""A sandbox platform server: the audit-log API on loopback with synthetic events."""

from audit_viewer.sandbox.server import Faults, SandboxServer, ServerStats

__all__ = ["Faults", "SandboxServer", "ServerStats"]
