"""``python -m audit_viewer``: the same command line as the ``audit-viewer`` script."""

from audit_viewer.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
