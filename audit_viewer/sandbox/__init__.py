"""A sandbox platform server: the audit-log API on loopback with synthetic events."""

from audit_viewer.sandbox.server import POISON_SAMPLE, Faults, SandboxServer, ServerStats

__all__ = ["POISON_SAMPLE", "Faults", "SandboxServer", "ServerStats"]
