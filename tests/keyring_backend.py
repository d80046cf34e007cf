"""An in-memory keyring backend, so tests never touch the developer's real keyring.

In-process: ``keyring.set_keyring(MemoryKeyring())``. For a subprocess: put this folder on
``PYTHONPATH`` and set ``PYTHON_KEYRING_BACKEND=keyring_backend.MemoryKeyring``; when
``AUDIT_VIEWER_TEST_KEYRING`` names a file, the secrets persist there so several processes of one
test share them (a test-only stand-in for the OS keyring, in the test's tmp folder).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

ENV_FILE = "AUDIT_VIEWER_TEST_KEYRING"


class MemoryKeyring(KeyringBackend):
    """Secrets in a dict keyed by (service, username)."""

    # Below keyring's fail/null backends: importing this module must never make keyring's own
    # detection pick it for other tests; it is used only when chosen explicitly.
    priority = -2  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        file = os.environ.get(ENV_FILE)
        self._file = Path(file) if file else None
        self._secrets: dict[tuple[str, str], str] = {}
        if self._file is not None and self._file.exists():
            data = json.loads(self._file.read_text(encoding="utf-8"))
            self._secrets = {(s, u): p for s, u, p in data}

    def _persist(self) -> None:
        if self._file is not None:
            rows = [[s, u, p] for (s, u), p in self._secrets.items()]
            self._file.write_text(json.dumps(rows), encoding="utf-8")

    def get_password(self, service: str, username: str) -> str | None:
        return self._secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._secrets[(service, username)] = password
        self._persist()

    def delete_password(self, service: str, username: str) -> None:
        if self._secrets.pop((service, username), None) is None:
            raise PasswordDeleteError("no such secret")
        self._persist()

    def stored(self) -> dict[tuple[str, str], str]:
        """What the backend holds, for assertions."""
        return dict(self._secrets)
