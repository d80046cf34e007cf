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

from audit_viewer import __version__, logs
from audit_viewer.cache import CacheError, CacheStore, resolve_cache_url
from audit_viewer.cached_profiles import choose
from audit_viewer.config import APP_NAME as PROG
from audit_viewer.config import (
    DEFAULT_LOG_LEVEL,
    LOG_LEVELS,
    ConfigError,
    Profile,
    SecretStore,
    default_profile_name,
    load_profiles,
)
from audit_viewer.frame import return_freed_memory
from audit_viewer.ui.application import application, call_soon, run, show_startup_error
from audit_viewer.ui.main_window import MainWindow
from audit_viewer.ui.self_check import run_self_check

log = logging.getLogger(__name__)

DEMO_EVENTS = 50_000
DEMO_PROFILE = "demo"


class StartupError(Exception):
    """The window cannot open (unknown profile, unusable cache); the message says why."""


APP_EPILOG = f"""\
examples:
  audit-viewer --demo                    built-in demo data, no account needed
  audit-viewer                           the default profile's cache (works offline)
  audit-viewer --profile staging --utc   another saved profile, times in UTC
  audit-viewer --cache archive.sqlite3   any cache file, e.g. a colleague's archive
  audit-viewer --cache postgresql+psycopg://audit@db.example.com/audit
                                         a shared PostgreSQL cache

`{PROG} --help` lists the commands (sync, export, profile, sandbox).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Open the desktop app: browse, search, sync and export the platform's "
        "audit log.",
        epilog=APP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "--cache",
        metavar="URL",
        help="cache file or SQLAlchemy URL (default: the profile's, else the shared one)",
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
    parser.add_argument(
        "--self-check",
        action="store_true",
        help="check this installation offscreen in a temporary folder (window, sync from the "
        "built-in sandbox, Save as CSV) and exit 0 when it works",
    )
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        metavar="LEVEL",
        help=f"how much the log file records: {', '.join(LOG_LEVELS)} "
        f"(default: the log_level setting, else {DEFAULT_LOG_LEVEL})",
    )
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
) -> tuple[str, ...]:
    """Check the chosen profile against the cache; without one, show what the cache holds.

    A cache named with ``--cache`` (a colleague's file, an archive) is about its own events:
    when the default profile has none there, the cache's profile is shown instead, by the rule
    of :mod:`audit_viewer.cached_profiles`. Returns the profiles to ask about when the cache
    holds several and none is preferred (the window asks once it is shown).
    """
    cached = store.profiles()
    name = startup.profile_name
    if requested:
        if startup.profile is None and name not in cached:
            known = ", ".join(sorted(set(cached) | set(_saved_profiles()))) or "none"
            raise StartupError(f"No profile named {requested!r} (known: {known}).")
        return ()
    saved_elsewhere = startup.profile is not None and not (explicit_cache and cached)
    if name is not None and (name in cached or saved_elsewhere):
        return ()
    choice = choose(cached)
    startup.profile_name = choice.name
    startup.profile = _saved_profiles().get(choice.name) if choice.name else None
    return choice.ask


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
    return_freed_memory()
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
            store = CacheStore.open_for_reading(startup.cache_url)
        except CacheError as exc:
            raise StartupError(str(exc)) from None
        try:
            ask: tuple[str, ...] = ()
            if not args.demo:
                ask = _resolve_cached_profile(startup, store, args.profile, args.cache is not None)
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
        call_soon(window.sync.start)
    if ask:
        call_soon(lambda: window.profiles.ask_which(ask))
    return window


def main(argv: list[str] | None = None) -> int:
    """Run the desktop app; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)  # --help/--version/usage errors before any window
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    if args.self_check:  # before any QApplication (it must be offscreen) and any user log
        return run_self_check()
    with logs.session(level=args.log_level):
        application()
        try:
            window = create_window(argv)
        except StartupError as exc:
            log.info("Cannot open the window: %s", exc)  # stderr and a dialog say it
            print(f"{PROG}: {exc}", file=sys.stderr)
            show_startup_error(str(exc))
            return 2
        return run(window)
