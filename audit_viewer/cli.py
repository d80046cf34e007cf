"""The ``audit-viewer`` command line: sync, export, profiles, the sandbox, and the GUI launcher.

Heavy modules (requests, SQLAlchemy, pandas, Qt) are imported inside the commands, so
``audit-viewer --help`` stays fast and the GUI's Qt import happens only when the GUI starts.
The client secret never comes from argv: it comes from the keyring or from
``AUDIT_VIEWER_CLIENT_SECRET``, and every log line and error this module writes is scrubbed of it.
"""

from __future__ import annotations

import argparse
import getpass
import itertools
import logging
import os
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit_viewer import command_line, config, logs
from audit_viewer.config import APP_NAME as PROG

if TYPE_CHECKING:
    from audit_viewer.cache import CacheStore
    from audit_viewer.sync import SyncProgress

log = logging.getLogger(__name__)


EXIT_OK = 0
EXIT_INTERNAL = 1  # a bug: details in the log file
EXIT_USAGE = 2  # bad arguments or query, no/ambiguous profile, missing secret, bad settings
EXIT_AUTH = 3  # bad client credentials
EXIT_FORBIDDEN = 4  # 403: not an administrator, or the audit log is not enabled
EXIT_UNAVAILABLE = 5  # server unreachable or still failing after retries
EXIT_PROTOCOL = 6  # the server broke the contract or rejected a parameter (400)
EXIT_CACHE = 7  # the cache is corrupt, too new, or unreachable
EXIT_EXPORT = 8  # the CSV could not be written (disk full, permission denied, ...)
EXIT_BUSY = 9  # another sync of the same profile into the same cache is running
EXIT_INTERRUPTED = 130  # Ctrl+C


class CliError(Exception):
    """An expected failure: printed as one line (plus optional detail lines), mapped to a code."""

    def __init__(self, message: str, code: int = EXIT_USAGE, details: tuple[str, ...] = ()):
        super().__init__(message)
        self.code = code
        self.details = details


def _print_error(message: str, details: tuple[str, ...] = ()) -> None:
    """One short line on stderr (the log file keeps the whole text), then any detail lines."""
    print(f"{PROG}: error: {logs.one_line(message)}", file=sys.stderr)
    for detail in details:
        print(f"  {logs.one_line(detail)}", file=sys.stderr)


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


# --- running work so that Ctrl+C cancels it cleanly ---------------------------------------


def _run_cancellable[T](work: Callable[[threading.Event], T]) -> T:
    """Run ``work(cancel)`` on a worker thread; Ctrl+C sets ``cancel`` and waits for it to stop.

    The sync engine and the exporter check the event between pages and chunks, so a first Ctrl+C
    ends with everything committed so far kept and no half-written file; a second one quits at
    once. Returns what ``work`` returned (which says whether it was cancelled); its exceptions
    are re-raised here.
    """
    cancel = threading.Event()
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = work(cancel)
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            done.set()

    # Wait on our own event, not Thread.join(): on CPython 3.12 a Ctrl+C that interrupts join()
    # can mark a still-running thread as finished.
    threading.Thread(target=target, name=f"{PROG}-worker", daemon=True).start()
    try:
        while not done.wait(0.2):  # a timed wait stays interruptible on every OS
            pass
    except KeyboardInterrupt:
        cancel.set()
        print(f"{PROG}: cancelling (Ctrl+C again to quit at once)...", file=sys.stderr)
        while not done.wait(0.2):
            pass
    if "error" in outcome:
        raise outcome["error"]
    result: T = outcome["result"]
    return result


# --- sync ----------------------------------------------------------------------------------


def _sync_profile(args: argparse.Namespace) -> config.Profile:
    """The profile a sync uses: --base-url/--client-id (ad hoc), --profile, or the default."""
    if (args.base_url is None) != (args.client_id is None):
        raise CliError("--base-url and --client-id go together")
    try:
        saved = config.load_profiles()
        if args.base_url is not None:
            base_url = config.check_base_url(args.base_url)
            name = args.profile or config.derived_profile_name(base_url, args.client_id)
            config.check_profile_name(name)
            profile = saved.get(name) or config.Profile(name=name)
            profile.base_url, profile.client_id = base_url, args.client_id
        else:
            name = args.profile or config.default_profile_name()
            if name is None:
                raise CliError(
                    "No profile to sync: use --profile NAME, or --base-url URL --client-id ID "
                    f"with {config.ENV_SECRET} set, or save one with `{PROG} profile add`"
                )
            if name not in saved:
                known = ", ".join(sorted(saved)) or "none"
                source = (
                    "" if args.profile else f" (the default, from {config.ENV_PROFILE} or settings)"
                )
                raise CliError(f"No saved profile named {name!r}{source}; saved profiles: {known}")
            profile = saved[name]
    except config.ConfigError as exc:
        raise CliError(str(exc)) from None
    if args.page_size is not None:
        profile.page_size = args.page_size
    return profile


def _missing_secret(profile: config.Profile, store: config.SecretStore) -> CliError:
    if not store.available:
        return CliError(
            f"No client secret for profile {profile.name!r}: set {config.ENV_SECRET} "
            f"(cannot use the keyring: {store.reason})"
        )
    return CliError(
        f"No client secret for profile {profile.name!r}: set {config.ENV_SECRET}, or store it "
        f"in the keyring with `{PROG} profile add {profile.name} --base-url {profile.base_url} "
        f"--client-id {profile.client_id} --replace`"
    )


def _platform_exit_code(exc: Exception) -> int:
    from audit_viewer.api import (
        AuthenticationError,
        InsecureURLError,
        PermissionDeniedError,
        ServerUnavailableError,
    )

    if isinstance(exc, InsecureURLError):
        return EXIT_USAGE
    if isinstance(exc, AuthenticationError):
        return EXIT_AUTH
    if isinstance(exc, PermissionDeniedError):
        return EXIT_FORBIDDEN
    if isinstance(exc, ServerUnavailableError):
        return EXIT_UNAVAILABLE
    return EXIT_PROTOCOL


class _SyncProgressView:
    """A rich progress bar on a terminal (day ranges, pages, events, current range); else silent."""

    def __init__(self, profile: config.Profile, enabled: bool) -> None:
        self._profile = profile
        self._enabled = enabled
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Callable[[SyncProgress], None] | None:
        if not self._enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        console.print(
            f"Syncing profile {self._profile.name} from {self._profile.base_url}",
            markup=False,
            highlight=False,
        )
        self._progress = Progress(
            SpinnerColumn(),
            BarColumn(bar_width=20),
            TextColumn("{task.fields[pages]} pages, {task.fields[events]} events"),
            TextColumn("({task.fields[new]} new)"),
            TextColumn("[dim]{task.fields[range]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._progress.start()
        self._task = self._progress.add_task("sync", total=None, pages=0, events=0, new=0, range="")
        return self._update

    def _update(self, p: SyncProgress) -> None:
        self._progress.update(
            self._task,
            total=p.ranges_total or None,
            completed=p.ranges_done,
            pages=p.pages,
            events=p.events,
            new=p.new_events,
            range=f"{p.range_start:%m-%d %H:%M}-{p.range_end:%m-%d %H:%M} UTC",
        )

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def cmd_sync(args: argparse.Namespace) -> int:
    profile = _sync_profile(args)
    store = config.SecretStore()
    secret = config.get_secret(profile.name, secrets=store)
    if not secret:
        raise _missing_secret(profile, store)
    logs.redact.add(secret)
    cache_url = args.cache or profile.cache
    show_progress = not args.quiet and sys.stderr.isatty()
    log.info("Syncing profile %s from %s", profile.name, profile.base_url)

    from audit_viewer.api import PlatformClient, PlatformError
    from audit_viewer.cache import CacheError, CacheStore, SyncBusyError
    from audit_viewer.sync import SyncCancelled, SyncEngine

    with _SyncProgressView(profile, show_progress) as progress:

        def work(cancel: threading.Event) -> Any:
            with (
                CacheStore.open(cache_url, lock_timeout=args.lock_timeout) as cache,
                PlatformClient(
                    profile.base_url,
                    profile.client_id,
                    secret,
                    page_size=profile.page_size,
                    ca_bundle=profile.ca_bundle,
                ) as client,
            ):
                engine = SyncEngine(client, cache, profile.name)
                return engine.run(
                    full=args.full, progress=progress, cancel=cancel, keep_days=args.keep_days
                )

        try:
            result = _run_cancellable(work)
        except SyncCancelled:
            result = None
        except PlatformError as exc:
            raise CliError(str(exc), _platform_exit_code(exc)) from None
        except SyncBusyError as exc:
            raise CliError(str(exc), EXIT_BUSY) from None
        except CacheError as exc:
            raise CliError(str(exc), EXIT_CACHE) from None

    if result is None or result.cancelled:
        kept = "" if result is None else f" after {_plural(result.new_events, 'new event')}"
        print(
            f"{PROG}: sync of profile {profile.name} cancelled{kept}; what was synced is kept, "
            "run the same command again to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    summary = (
        f"Synced {_plural(result.new_events, 'new event')} ({result.total_cached} cached) "
        f"for profile {profile.name} in {result.elapsed:.1f} s"
    )
    if result.flagged:
        summary += f"; {_plural(result.flagged, 'odd event')} flagged (search flag:any)"
    if result.rejected:
        summary += (
            f"; {_plural(result.rejected, 'entry')} that no event can be made of kept aside "
            "(see the log)"
        )
    log.info(summary)
    if not args.quiet:
        print(summary)
    return EXIT_OK


# --- export --------------------------------------------------------------------------------


def _require_existing_cache(cache_url: str | None) -> None:
    """Exporting from a cache file that does not exist would silently create an empty one."""
    import sqlalchemy as sa

    from audit_viewer.cache import resolve_cache_url

    try:
        url = sa.make_url(resolve_cache_url(cache_url))
    except sa.exc.ArgumentError:
        raise CliError(
            f"Invalid cache URL {cache_url!r}: use a file path or an SQLAlchemy URL"
        ) from None
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database)
        if not path.exists():
            raise CliError(f"No cache at {path}: run `{PROG} sync` first, or pass --cache")


def _export_profile(cache: CacheStore, wanted: str | None, preferred: str | None) -> str:
    """The profile to export (see :mod:`audit_viewer.cached_profiles`); several: list them."""
    from audit_viewer.cached_profiles import NotCachedError, choose

    try:
        choice = choose(
            cache.profiles(), wanted=wanted, preferred=preferred, location=cache.location
        )
    except NotCachedError as exc:
        raise CliError(str(exc)) from None
    if choice.ask:
        raise CliError(
            f"The cache {cache.location} holds {len(choice.ask)} profiles; "
            "choose one with --profile NAME:",
            details=tuple(f"{p} ({_plural(cache.count(p), 'event')})" for p in choice.ask),
        )
    if choice.name is None:
        raise CliError(f"The cache {cache.location} is empty: run `{PROG} sync` first")
    return choice.name


def _format_of(output: str) -> str:
    suffix = output.lower()
    if suffix.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    return "xlsx" if suffix.endswith(".xlsx") else "csv"


def cmd_export(args: argparse.Namespace) -> int:
    from audit_viewer.query import QueryError, parse_query

    query = parse_query(args.query or "")
    # A qualifier the fixed set lacks may name an extra field of the archive (ip_address:):
    # that is known once the first events are read, so that error waits for them.
    if isinstance(query, QueryError) and query.qualifier is None:
        raise CliError(f"Bad query: {query}")
    cache_url = args.cache
    profile_name = args.profile
    try:
        if cache_url is None and profile_name is None:  # like sync: the default profile's
            profile_name = config.default_profile_name()
        if cache_url is None and profile_name is not None:
            saved = config.load_profiles().get(profile_name)
            cache_url = saved.cache if saved is not None else None
    except config.ConfigError as exc:
        raise CliError(str(exc)) from None

    from audit_viewer.cache import CacheError, CacheStore
    from audit_viewer.export import ExportCancelled, ExportError, write_csv, write_jsonl
    from audit_viewer.filters import SEARCH, FilterState
    from audit_viewer.frame import extra_fields, find_extra_field, return_freed_memory

    fmt = args.format or _format_of(args.output)
    jsonl = fmt == "jsonl"
    if jsonl and (args.bom or args.no_formula_guard):
        raise CliError("--bom and --no-formula-guard are for CSV; JSON Lines has neither")
    if fmt == "xlsx" and args.bom:
        raise CliError("--bom is for CSV; a workbook needs none")

    return_freed_memory()

    _require_existing_cache(cache_url)
    target_name = "standard output" if args.output == "-" else args.output

    def work(cancel: threading.Event) -> int:
        with CacheStore.open_for_reading(cache_url) as cache:
            # The default profile picks its own events when the cache has them; otherwise
            # the cache's only profile, as without a default.
            profile = _export_profile(cache, args.profile, profile_name)
            now = datetime.now(UTC)  # one `now` for every chunk: relative spans stay consistent
            chunks = cache.iter_frames(profile, whole_json=jsonl)
            parsed = query
            if isinstance(parsed, QueryError):  # parse again, knowing the extra fields
                first = next(chunks, None)
                extras = [f.name for f in extra_fields(first)] if first is not None else []

                def find(name: str) -> str | None:
                    """A rare field the first events lack: any event of the archive may have it."""
                    frames = cache.iter_frames(profile)
                    return next(filter(None, (find_extra_field(f, name) for f in frames)), None)

                state = FilterState(search=args.query or "", extra_fields=frozenset(extras))
                parsed = state.with_fields_found(find).parsed[SEARCH]
                if isinstance(parsed, QueryError):
                    raise CliError(f"Bad query: {parsed}")
                chunks = itertools.chain([first] if first is not None else [], chunks)
            matching = parsed
            frames = (
                chunk if matching.is_empty else chunk[matching.mask(chunk, now)] for chunk in chunks
            )
            if jsonl:
                texts = (frame["raw"].tolist() for frame in frames)
                return write_jsonl(texts, args.output, cancel=cancel)
            if fmt == "xlsx":
                from audit_viewer.workbook import write_xlsx

                guard = not args.no_formula_guard
                return write_xlsx(frames, args.output, formula_guard=guard, cancel=cancel)
            return write_csv(
                frames,
                args.output,
                bom=args.bom,
                formula_guard=not args.no_formula_guard,
                cancel=cancel,
            )

    try:
        rows = _run_cancellable(work)
    except ExportCancelled:
        untouched = "" if args.output == "-" else f"; {args.output} was not written"
        print(f"{PROG}: export cancelled{untouched}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ExportError as exc:
        raise CliError(str(exc), EXIT_EXPORT) from None
    except CacheError as exc:
        raise CliError(str(exc), EXIT_CACHE) from None
    summary = f"Exported {_plural(rows, 'event')} to {target_name}"
    log.info("%s (query %r)", summary, args.query or "")
    print(summary, file=sys.stderr)
    return EXIT_OK


# --- profiles ------------------------------------------------------------------------------


def _read_new_secret(name: str) -> str:
    """The secret for `profile add`: the env var, else a hidden prompt, else one stdin line."""
    env = os.environ.get(config.ENV_SECRET)
    if env:
        print(f"Using the client secret from {config.ENV_SECRET}.", file=sys.stderr)
        return env
    if sys.stdin is not None and sys.stdin.isatty():
        secret = getpass.getpass(f"Client secret for {name}: ")
    else:
        secret = sys.stdin.readline() if sys.stdin is not None else ""
    secret = secret.strip()
    if not secret:
        raise CliError(
            "No client secret given (type it at the prompt, pipe it in, "
            f"or set {config.ENV_SECRET})"
        )
    return secret


def cmd_profile_add(args: argparse.Namespace) -> int:
    try:
        name = config.check_profile_name(args.name)
        base_url = config.check_base_url(args.base_url)
        exists = name in config.load_profiles()
    except config.ConfigError as exc:
        raise CliError(str(exc)) from None
    if exists and not args.replace:
        raise CliError(f"Profile {name!r} exists; add --replace to overwrite it")
    ca_bundle = None
    if args.ca_bundle is not None:
        ca_path = Path(args.ca_bundle).expanduser()
        if not ca_path.is_file():
            raise CliError(f"CA bundle {ca_path} is not a file")
        ca_bundle = str(ca_path.resolve())
    profile = config.Profile(
        name=name,
        base_url=base_url,
        client_id=args.client_id,
        page_size=args.page_size,
        ca_bundle=ca_bundle,
        timezone=args.timezone,
        cache=args.cache,
    )
    store = config.SecretStore()
    stored = False
    if store.available:
        secret = _read_new_secret(name)
        logs.redact.add(secret)
        try:
            store.set(name, secret)
            stored = True
        except config.SecretStoreError:
            pass  # store.reason says why; reported below like a missing keyring
    try:
        config.save_profile(profile)
        if args.default or config.default_profile_name(include_env=False) is None:
            config.set_default_profile(name)
    except config.ConfigError as exc:
        raise CliError(str(exc)) from None
    default = " (default)" if config.default_profile_name(include_env=False) == name else ""
    if stored:
        print(
            f"Saved profile {name}{default}; its secret is in the keyring ({store.backend_name})."
        )
    else:
        print(
            f"Saved profile {name}{default} without its secret: cannot use the keyring: "
            f"{store.reason}. Set {config.ENV_SECRET} when you sync."
        )
    return EXIT_OK


def cmd_profile_list(args: argparse.Namespace) -> int:
    try:
        profiles = config.load_profiles()
        default = config.default_profile_name()
    except config.ConfigError as exc:
        raise CliError(str(exc)) from None
    store = config.SecretStore()
    if not profiles:
        print(
            f"No profiles saved. Add one with: "
            f"{PROG} profile add NAME --base-url URL --client-id ID"
        )
    else:
        rows = [("", "NAME", "BASE URL", "CLIENT ID", "SECRET")]
        for name in sorted(profiles):
            p = profiles[name]
            if not store.available:
                secret = "keyring unavailable"
            else:
                secret = "stored in keyring" if store.get(name) else "not stored"
            rows.append(("*" if name == default else "", name, p.base_url, p.client_id, secret))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        print(f"(* = default; settings in {config.settings_path()})")
    if not store.available:
        print(f"No usable keyring: {store.reason}. Set {config.ENV_SECRET} to sync.")
    if os.environ.get(config.ENV_SECRET):
        print(f"{config.ENV_SECRET} is set and is used instead of any stored secret.")
    return EXIT_OK


def cmd_profile_remove(args: argparse.Namespace) -> int:
    store = config.SecretStore()
    try:
        config.remove_profile(args.name, secrets=store)
    except config.ConfigError as exc:
        raise CliError(str(exc)) from None
    except config.SecretStoreError as exc:
        print(f"Removed profile {args.name}, but not its keyring secret: {exc}")
        return EXIT_OK
    what = "and its keyring secret" if store.available else "(no keyring secret to remove)"
    print(f"Removed profile {args.name} {what}; its cached events stay in the cache.")
    return EXIT_OK


def cmd_profile_default(args: argparse.Namespace) -> int:
    try:
        if args.name is not None:
            config.set_default_profile(args.name)
        name = config.default_profile_name()
    except config.ConfigError as exc:
        raise CliError(str(exc)) from None
    print(f"Default profile: {name}" if name else "No default profile.")
    return EXIT_OK


# --- sandbox -------------------------------------------------------------------------------


def sandbox_faults(args: argparse.Namespace) -> Any:
    """The sandbox's :class:`~audit_viewer.sandbox.Faults` from its command-line flags."""
    from audit_viewer.sandbox import POISON_SAMPLE, Faults

    return Faults(
        rate_limit_every=args.rate_limit_every,
        retry_after=args.retry_after,
        server_error_every=args.server_error_every,
        token_ttl=args.token_ttl,
        slow_page_seconds=args.slow_page,
        enforce_rate_limit=not args.no_rate_limit,
        malformed_every=args.malformed_every,
        repeat_across_pages=args.repeat_across_pages,
        raw_events=list(POISON_SAMPLE) if args.poison else [],
        forbidden_message=args.forbidden_message,
        cycle_cursors=args.cycle_cursors,
        repeat_page_forever=args.repeat_page_forever,
        empty_pages_forever=args.empty_pages_forever,
        trickle_seconds=args.trickle,
        drop_mid_body_every=args.drop_mid_body_every,
    )


def cmd_sandbox(args: argparse.Namespace) -> int:
    from audit_viewer.sandbox import SandboxServer

    server = SandboxServer(
        events=args.events,
        seed=args.seed,
        faults=sandbox_faults(args),
        host=args.host,
        port=args.port,
        admin=not args.forbidden,
    )
    try:
        server.start()
    except OSError as exc:
        raise CliError(
            f"Cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
            "choose another --port (0 picks a free one)"
        ) from None
    print(f"Sandbox platform on {server.url} ({args.events} events, seed {args.seed})")
    print(f"  client id: {server.client_id}")
    print(f"  secret:    {server.secret}")
    print("Sync it with:")
    print(
        f"  {config.ENV_SECRET}={server.secret} {PROG} sync "
        f"--base-url {server.url} --client-id {server.client_id}"
    )
    print("Press Ctrl+C to stop.", flush=True)
    server.serve_forever()  # returns on Ctrl+C, server stopped
    print("Sandbox stopped.", file=sys.stderr)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``audit-viewer`` and ``python -m audit_viewer``; returns the exit code.

    Whatever goes wrong ends as one line on stderr and an exit code: an expected failure with
    its own code, an unexpected one (a bug) with code 1 and the traceback in the log file.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    logs.redact.add(os.environ.get(config.ENV_SECRET))
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        with logs.session():  # the file only; inside the window's session this adds nothing
            log.error("Unexpected error", exc_info=True, extra={logs.FILE_ONLY: True})
        _print_error(f"internal error ({type(exc).__name__}: {exc}); details in {logs.log_file()}")
        return EXIT_INTERNAL
    finally:
        logs.redact.clear()


def _main(argv: list[str]) -> int:
    try:
        args = command_line.parse(argv)
    except SystemExit as exc:  # --help, --version, or a usage error argparse printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if command_line.opens_the_window(args):
        from audit_viewer.app import launch

        return launch(args)
    with logs.session(level=args.log_level, verbosity=args.verbose):
        try:
            code: int = HANDLERS[args.handler](args)
            return code
        except CliError as exc:
            log.info("%s failed: %s", args.command, exc)
            _print_error(str(exc), exc.details)
            return exc.code


#: What each command's ``handler`` word (set by :mod:`audit_viewer.command_line`) runs.
HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "sync": cmd_sync,
    "export": cmd_export,
    "profile add": cmd_profile_add,
    "profile list": cmd_profile_list,
    "profile remove": cmd_profile_remove,
    "profile default": cmd_profile_default,
    "sandbox": cmd_sandbox,
}
