"""Starting the desktop app: which cache, which profile, the in-process demo, the event loop.

``create_window(argv)`` is the one place that turns the app's command line into a window, so
the ``audit-viewer`` command and the tests build exactly the same thing; ``main(argv)`` adds the
event loop and error reporting for a person at a desktop (a dialog, not just stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from audit_viewer import __version__
from audit_viewer.cache import CacheError, CacheStore, resolve_cache_url
from audit_viewer.config import APP_NAME as PROG
from audit_viewer.config import (
    ConfigError,
    Profile,
    SecretStore,
    default_profile_name,
    load_profiles,
)
from audit_viewer.ui.application import application, call_soon, run, show_startup_error
from audit_viewer.ui.main_window import MainWindow

log = logging.getLogger(__name__)

DEMO_EVENTS = 50_000
DEMO_PROFILE = "demo"


class StartupError(Exception):
    """The window cannot open (unknown profile, unusable cache); the message says why."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Browse, search, sync and export the platform's audit log.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "--cache", metavar="URL", help="cache file or SQLAlchemy URL (default: the profile's)"
    )
    parser.add_argument("--profile", metavar="NAME", help="saved profile to show and sync")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="start a sandbox platform in-process and sync demo events into a temporary cache",
    )
    parser.add_argument(
        "--demo-events",
        type=int,
        default=DEMO_EVENTS,
        metavar="N",
        help=f"events the demo platform serves (default {DEMO_EVENTS:,})",
    )
    parser.add_argument("--utc", action="store_true", help="show times in UTC")
    return parser


@dataclass
class _Startup:
    """Everything the window needs; ``cleanups`` undoes the demo (LIFO) when the window closes."""

    cleanups: contextlib.ExitStack
    cache_url: str = ""
    profile_name: str | None = None
    profile: Profile | None = None
    session_secret: str | None = None
    warning: str | None = None


def _start_demo(startup: _Startup, events: int) -> None:
    """A sandbox server on a free loopback port and a throwaway cache; both go on close."""
    from audit_viewer.sandbox import SandboxServer

    folder = Path(tempfile.mkdtemp(prefix="audit-viewer-demo-"))
    startup.cleanups.callback(shutil.rmtree, folder, ignore_errors=True)
    server = SandboxServer(events=events, port=0).start()
    startup.cleanups.callback(server.stop)
    startup.cache_url = resolve_cache_url(folder / "demo-cache.sqlite3")
    startup.profile_name = DEMO_PROFILE
    startup.profile = Profile(
        name=DEMO_PROFILE, base_url=server.url, client_id=server.client_id, page_size=1000
    )
    startup.session_secret = server.secret


def _choose_profile(startup: _Startup, requested: str | None) -> None:
    """--profile, else the default profile, else the only saved one; None = cache only."""
    try:
        profiles = load_profiles()
        name = requested or default_profile_name()
    except ConfigError as exc:
        if requested:
            raise StartupError(str(exc)) from None
        startup.warning = f"Saved profiles are unavailable: {exc}"
        return
    if name is None and len(profiles) == 1:
        name = next(iter(profiles))
    startup.profile_name = name
    startup.profile = profiles.get(name) if name else None


def _resolve_cached_profile(
    startup: _Startup, store: CacheStore, requested: str | None, explicit_cache: bool
) -> None:
    """Check the chosen profile against the cache; without one, show what the cache holds.

    A cache named with ``--cache`` (a colleague's file, an archive) is about its own events:
    when the default profile has none there, the cache's first profile is shown instead.
    """
    cached = store.profiles()
    name = startup.profile_name
    if requested:
        if startup.profile is None and name not in cached:
            known = ", ".join(sorted(set(cached) | set(_saved_profiles()))) or "none"
            raise StartupError(f"No profile named {requested!r} (known: {known}).")
        return
    saved_elsewhere = startup.profile is not None and not (explicit_cache and cached)
    if name is not None and (name in cached or saved_elsewhere):
        return
    startup.profile_name = cached[0] if cached else None
    startup.profile = _saved_profiles().get(cached[0]) if cached else None


def _saved_profiles() -> dict[str, Profile]:
    try:
        return load_profiles()
    except ConfigError:
        return {}


def create_window(argv: list[str]) -> MainWindow:
    """Build the main window exactly as ``audit-viewer ARGS`` would, without the event loop.

    Raises ``SystemExit`` for bad arguments (argparse) and :class:`StartupError` when the cache
    cannot be opened or the profile does not exist.
    """
    args = build_parser().parse_args(argv)
    application()
    with contextlib.ExitStack() as cleanups:
        startup = _Startup(cleanups)
        if args.demo:
            _start_demo(startup, args.demo_events)
        else:
            _choose_profile(startup, args.profile)
            cache = args.cache or (startup.profile.cache if startup.profile else None)
            startup.cache_url = resolve_cache_url(cache)
        try:
            store = CacheStore.open(startup.cache_url)
        except CacheError as exc:
            raise StartupError(str(exc)) from None
        try:
            if not args.demo:
                _resolve_cached_profile(startup, store, args.profile, args.cache is not None)
            window = MainWindow(
                store=store,
                cache_url=startup.cache_url,
                profile_name=startup.profile_name,
                profile=startup.profile,
                secrets=SecretStore(),
                session_secret=startup.session_secret,
                utc=True if args.utc else None,
            )
        except CacheError as exc:
            store.close()
            raise StartupError(str(exc)) from None
        except BaseException:
            store.close()
            raise
        window.on_close.append(cleanups.pop_all().close)
    if startup.warning:
        window.banner.show_message(startup.warning)
    if args.demo:
        call_soon(window.start_sync)
    return window


def main(argv: list[str] | None = None) -> int:
    """Run the desktop app; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        build_parser().parse_args(argv)  # --help/--version/usage errors before any window
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    application()
    try:
        window = create_window(argv)
    except StartupError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        show_startup_error(str(exc))
        return 2
    return run(window)
