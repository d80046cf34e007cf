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

from audit_viewer import command_line, logs
from audit_viewer.cache import CacheError, CacheStore, resolve_cache_url
from audit_viewer.cached_profiles import choose
from audit_viewer.config import APP_NAME as PROG
from audit_viewer.config import (
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
from audit_viewer.ui.session import Session

log = logging.getLogger(__name__)

DEMO_PROFILE = "demo"


class StartupError(Exception):
    """The window cannot open (unknown profile, unusable cache); the message says why."""


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
    args = command_line.parse(argv)
    if not command_line.opens_the_window(args):
        raise SystemExit(f"{PROG}: {args.command} is a command, not the window's options")
    return _create_window(args)


def _create_window(args: argparse.Namespace) -> MainWindow:
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
            session = Session(
                store=store,
                cache_url=startup.cache_url,
                profile_name=startup.profile_name,
                profile=startup.profile,
                secrets=SecretStore(),
                session_secret=startup.session_secret,
            )
            window = MainWindow(session, utc=True if args.utc else None)
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
    """Run the desktop app for the window's options in ``argv``; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = command_line.parse(argv)  # --help/--version/usage errors before any window
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    return launch(args)


def launch(args: argparse.Namespace) -> int:
    """The window for parsed options (``audit-viewer`` without a command, or ``gui``)."""
    if args.self_check:  # before any QApplication (it must be offscreen) and any user log
        return run_self_check()
    with logs.session(level=args.log_level, verbosity=args.verbose):
        application()
        try:
            window = _create_window(args)
        except StartupError as exc:
            log.info("Cannot open the window: %s", exc)  # stderr and a dialog say it
            print(f"{PROG}: {exc}", file=sys.stderr)
            show_startup_error(str(exc))
            return 2
        return run(window)
