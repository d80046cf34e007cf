#!/usr/bin/env bash
# Build the one-folder desktop bundle and prove it works before calling it built.
#
#   build_spec/build.sh [DIST_DIR]      (default: dist/ in the repository)
#
# Result: DIST_DIR/audit-viewer/audit-viewer, with share/applications/audit-viewer.desktop and
# share/icons/hicolor/ next to it for the desktop. The frozen program then runs --version and
# --self-check in a bare environment (no venv, no PYTHONPATH, a throwaway HOME), so a bundle
# that needs anything from this machine's Python fails here, not on an admin's desktop.
# Needs the package and PyInstaller installed: .venv/bin/pip install -e '.[build]'
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
DIST=$(realpath -m "${1:-dist}")
WORK="$DIST/.work"
BUNDLE="$DIST/audit-viewer"

if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
    echo "build.sh: PyInstaller is missing; run: $PYTHON -m pip install -e '.[build]'" >&2
    exit 2
fi

"$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$DIST" --workpath "$WORK" build_spec/audit_viewer.spec

# Desktop integration: copy share/ into ~/.local/share (or /usr/local/share) to install it.
mkdir -p "$BUNDLE/share/applications" "$BUNDLE/share/icons"
cp resources/audit-viewer.desktop "$BUNDLE/share/applications/"
rm -rf "$BUNDLE/share/icons/hicolor"
cp -r resources/icons/hicolor "$BUNDLE/share/icons/"

echo "== bundle: $BUNDLE"
echo "size: $(du -sh "$BUNDLE" | cut -f1) on disk ($(du -sb "$BUNDLE" | cut -f1) bytes)"

bare_home=$(mktemp -d)
trap 'rm -rf "$bare_home"' EXIT
bare() { env -i PATH=/usr/bin:/bin HOME="$bare_home" LANG=C.UTF-8 "$@"; }
bare "$BUNDLE/audit-viewer" --version
bare "$BUNDLE/audit-viewer" --self-check
