"""The one parser of the ``audit-viewer`` command line: its commands and the window's options.

Without a command the desktop app opens, so its options (``--demo``, ``--cache``, ...) sit on
the top level as well as on ``gui``. Each command names its handler by word
(``args.handler``); :mod:`audit_viewer.cli` runs them and :mod:`audit_viewer.app` reads the
window's options from the same namespace, so there is one parser and no argv splitting.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from audit_viewer import __version__, config
from audit_viewer.config import APP_NAME as PROG

GUI_COMMAND = "gui"

EPILOG = f"""\
examples:
  audit-viewer --demo               the desktop app on demo data, all on this machine
  audit-viewer                      the desktop app on the default profile's cache
  audit-viewer profile add prod --base-url https://api.jit.io --client-id ID
  audit-viewer sync                 fetch what is new for the default profile
  audit-viewer export -o audit.csv --query 'after:30d'
  audit-viewer sync --help          one command's options and examples

Without a command, {PROG} opens the desktop app with the options above
(`{PROG} gui` is the same). The client secret comes from the OS keyring (saved profiles)
or from {config.ENV_SECRET}; never from an argument. The log file
is in the user log folder; --log-level DEBUG makes it detailed.

exit codes:
  0 success               4 permission denied (403)       7 cache error
  1 internal error        5 server unavailable            8 export failed
  2 usage or settings     6 malformed or rejected request 130 interrupted (Ctrl+C)
  3 bad credentials                                        9 another sync is running
"""


GUI_EPILOG = """\
examples:
  audit-viewer --demo                    built-in demo data, no account needed
  audit-viewer                           the default profile's cache (works offline)
  audit-viewer --profile staging --utc   another saved profile, times in UTC
  audit-viewer --cache archive.sqlite3   any cache file, e.g. a colleague's archive
  audit-viewer --cache postgresql+psycopg://audit@db.example.com/audit
                                         a shared PostgreSQL cache
"""

DEMO_EVENTS = 50_000


def add_window_options(group: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The desktop app's options, on the top level (the default command) and on ``gui``."""
    group.add_argument(
        "--cache",
        metavar="URL",
        help="cache file or SQLAlchemy URL (default: the profile's, else the shared one)",
    )
    group.add_argument("--profile", metavar="NAME", help="saved profile to show and sync")
    group.add_argument(
        "--demo",
        action="store_true",
        help="start a sandbox platform in-process and sync demo events into a temporary cache",
    )
    group.add_argument(
        "--demo-events",
        type=_int_between(0),
        default=DEMO_EVENTS,
        metavar="N",
        help=f"events the demo platform serves (default {DEMO_EVENTS:,})",
    )
    group.add_argument("--utc", action="store_true", help="show times in UTC")
    group.add_argument(
        "--self-check",
        action="store_true",
        help="check this installation offscreen in a temporary folder (window, sync from the "
        "built-in sandbox, Save as CSV) and exit 0 when it works",
    )


def parse(argv: list[str]) -> argparse.Namespace:
    """The command line parsed; ``command`` is None (or "gui") for the desktop app.

    Raises SystemExit for --help, --version and usage errors, as argparse does.
    """
    parser = build_parser()
    return parser.parse_args(_attach_free_text(parser, argv))


def opens_the_window(args: argparse.Namespace) -> bool:
    return args.command in (None, GUI_COMMAND)


def _int_between(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low or (high is not None and value > high):
            span = f"{low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {span}, not {value}")
        return value

    return parse


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:  # NaN too
        raise argparse.ArgumentTypeError(f"must not be negative, not {value}")
    return value


def _log_level(text: str) -> str:
    try:
        return config.check_log_level(text)
    except config.ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _common_options(*, top: bool) -> argparse.ArgumentParser:
    """-v and --log-level, accepted before the command and after it (``sync -v`` reads well).

    The top level and the commands get separate copies: argparse shares a parent's actions, and
    a command's default would otherwise overwrite what was given before the command.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if top else argparse.SUPPRESS,
        help="more output on stderr: -v adds info from every library, -vv debug",
    )
    common.add_argument(
        "--log-level",
        type=_log_level,
        metavar="LEVEL",
        default=None if top else argparse.SUPPRESS,
        help=f"how much the log file records: {', '.join(config.LOG_LEVELS)} "
        f"(default: the log_level setting, else {config.DEFAULT_LOG_LEVEL})",
    )
    return common


def _subcommand(
    commands: Any,
    name: str,
    common: argparse.ArgumentParser,
    *,
    help: str,
    description: str,
    epilog: str,
) -> argparse.ArgumentParser:
    """A subcommand with the common options and an epilog of examples laid out as written."""
    sub: argparse.ArgumentParser = commands.add_parser(
        name,
        parents=[common],
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=_HelpFormatter,
    )
    return sub


SYNC_EPILOG = f"""\
examples:
  audit-viewer sync                          the default profile, only what is new
  audit-viewer sync --profile prod --full    re-read the platform's whole 90 days
  audit-viewer sync --keep-days 730          keep two years, delete older events
  audit-viewer sync --base-url https://api.jit.io --client-id ID
                                             no saved profile: the secret is in
                                             {config.ENV_SECRET}

Ctrl+C stops after the current page and keeps what was stored; the same command
resumes.
"""

EXPORT_EPILOG = """\
examples:
  audit-viewer export -o audit.csv
  audit-viewer export -o ignored.csv --bom --query 'action:"Findings ignored" after:30d'
  audit-viewer export -o - --query 'user:alice -bot after:2026-11-01' | less
  audit-viewer export -o prod.csv --profile prod --cache /mnt/archive/cache.sqlite3
  audit-viewer export -o evidence.jsonl --query 'after:2026-01-01'   whole events, as stored
  audit-viewer export -o review.xlsx --query 'created:>=2026-11-01'  an Excel workbook

The query language is the search bar's: words, "phrases", -word, column:word
(user, action, description, id, actor), after:/before: a date or 7d / 24h.
"""

PROFILE_EPILOG = """\
examples:
  audit-viewer profile add prod --base-url https://api.jit.io --client-id ID --default
  audit-viewer profile list
  audit-viewer profile default staging
  audit-viewer profile remove old-tenant
"""

PROFILE_ADD_EPILOG = """\
examples:
  audit-viewer profile add prod --base-url https://api.jit.io --client-id ID
  audit-viewer profile add lab --base-url https://jit.lab.example --client-id ID \\
      --ca-bundle /etc/ssl/lab-ca.pem --timezone UTC
  pass show jit/prod | audit-viewer profile add prod --base-url https://api.jit.io \\
      --client-id ID --replace
"""

SANDBOX_EPILOG = """\
examples:
  audit-viewer sandbox                            http://127.0.0.1:8765, 5000 events
  audit-viewer sandbox --port 0 --events 100000   a free port, a bigger archive
  audit-viewer sandbox --rate-limit-every 5 --token-ttl 30
                                                  exercise retries and logging in again
  audit-viewer sandbox --poison --cycle-cursors   a hostile platform: odd events, and
                                                  paging that never ends
"""


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps one-paragraph descriptions to the terminal; keeps multi-line epilogs as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(top=False)
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Sync the platform's audit log into a local archive, search and export it.",
        epilog=EPILOG,
        formatter_class=_HelpFormatter,
        parents=[_common_options(top=True)],
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    add_window_options(parser.add_argument_group("the desktop app (without a command)"))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    gui = _subcommand(
        commands,
        GUI_COMMAND,
        common,
        help="open the desktop app (the default command)",
        description="Open the desktop app: browse, search, sync and export the audit log. "
        f"The same options work without the word {GUI_COMMAND}.",
        epilog=GUI_EPILOG,
    )
    add_window_options(gui)

    sync = _subcommand(
        commands,
        "sync",
        common,
        help="fetch new audit events into the local cache",
        description="Fetch new audit events into the local cache (incremental; resumable). "
        f"The secret comes from the keyring or {config.ENV_SECRET}.",
        epilog=SYNC_EPILOG,
    )
    who = sync.add_argument_group("which platform (default: the default profile)")
    who.add_argument(
        "--profile",
        metavar="NAME",
        help="a saved profile (or a name for the events of --base-url/--client-id)",
    )
    who.add_argument("--base-url", metavar="URL", help="platform base URL, e.g. https://api.jit.io")
    who.add_argument("--client-id", metavar="ID", help="API client id (goes with --base-url)")
    sync.add_argument(
        "--cache",
        metavar="URL",
        help="cache database: a file path or SQLAlchemy URL (default: the profile's, else "
        "the shared one)",
    )
    sync.add_argument(
        "--page-size",
        type=_int_between(1, 1000),
        metavar="N",
        help="events per request, 1-1000 (default: the profile's, else 1000)",
    )
    sync.add_argument(
        "--full",
        action="store_true",
        help="re-read the whole 90-day window instead of only what is new",
    )
    sync.add_argument(
        "--keep-days",
        type=_int_between(1),
        metavar="N",
        help="delete cached events older than N days (default: keep everything)",
    )
    sync.add_argument(
        "--lock-timeout",
        type=_non_negative_float,
        default=120.0,
        metavar="SECONDS",
        help="how long to wait while another program writes the SQLite cache (default: 120)",
    )
    sync.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")
    sync.set_defaults(handler="sync")

    export = _subcommand(
        commands,
        "export",
        common,
        help="write cached events to CSV or JSON Lines",
        description="Write cached events (newest first) to a CSV or JSON Lines file, or to "
        "stdout with -o -. Works offline, from the cache only.",
        epilog=EXPORT_EPILOG,
    )
    export.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="the CSV file to write, or - for standard output",
    )
    export.add_argument(
        "--query",
        metavar="Q",
        help="only events matching the search query, e.g. 'action:export after:7d'",
    )
    export.add_argument(
        "--cache", metavar="URL", help="cache database: a file path or SQLAlchemy URL"
    )
    export.add_argument(
        "--profile", metavar="NAME", help="whose events (default: the cache's only profile)"
    )
    export.add_argument(
        "--format",
        choices=("csv", "jsonl", "xlsx"),
        help="csv (columns, for spreadsheets), jsonl (each event's whole JSON on a line) or "
        "xlsx (an Excel workbook, split into sheets at Excel's row limit); default: by the "
        "file's suffix (.jsonl/.ndjson, .xlsx), else csv",
    )
    export.add_argument("--bom", action="store_true", help="start with a UTF-8 BOM (for Excel)")
    export.add_argument(
        "--no-formula-guard",
        action="store_true",
        help="do not prefix ' to cells starting with = + - @ (formula injection)",
    )
    export.set_defaults(handler="export")

    profile = _subcommand(
        commands,
        "profile",
        common,
        help="manage saved connection profiles",
        description="Saved connection profiles. Settings go to the config folder; secrets go "
        "to the OS keyring only.",
        epilog=PROFILE_EPILOG,
    )
    actions = profile.add_subparsers(
        dest="action", metavar="ACTION", required=True, title="actions"
    )
    add = _subcommand(
        actions,
        "add",
        common,
        help="save a profile and store its secret in the keyring",
        description="Save a profile. The secret is read from "
        f"{config.ENV_SECRET} if set, else prompted for (or read from stdin when piped), and "
        "stored in the OS keyring.",
        epilog=PROFILE_ADD_EPILOG,
    )
    add.add_argument("name", metavar="NAME", help="the profile's name, e.g. prod")
    add.add_argument(
        "--base-url",
        required=True,
        metavar="URL",
        help="platform base URL, e.g. https://api.jit.io",
    )
    add.add_argument("--client-id", required=True, metavar="ID", help="API client id")
    add.add_argument(
        "--page-size",
        type=_int_between(1, 1000),
        default=1000,
        metavar="N",
        help="events per request, 1-1000 (default 1000)",
    )
    add.add_argument("--ca-bundle", metavar="PATH", help="a CA bundle to trust for this platform")
    add.add_argument(
        "--timezone",
        default="local",
        metavar="TZ",
        help="time zone the app shows times in: local or UTC (default: local)",
    )
    add.add_argument(
        "--cache", metavar="URL", help="this profile's cache (default: the shared one)"
    )
    add.add_argument("--default", action="store_true", help="make it the default profile")
    add.add_argument("--replace", action="store_true", help="overwrite a profile of that name")
    add.set_defaults(handler="profile add")
    listing = _subcommand(
        actions,
        "list",
        common,
        help="show saved profiles",
        description="Show saved profiles, the default one, and whether each has a stored secret.",
        epilog=f"example:\n  {PROG} profile list\n",
    )
    listing.set_defaults(handler="profile list")
    remove = _subcommand(
        actions,
        "remove",
        common,
        help="delete a profile and its stored secret",
        description="Delete a saved profile and its keyring secret. Its cached events stay.",
        epilog=f"example:\n  {PROG} profile remove old-tenant\n",
    )
    remove.add_argument("name", metavar="NAME", help="the profile to delete")
    remove.set_defaults(handler="profile remove")
    default = _subcommand(
        actions,
        "default",
        common,
        help="show or set the default profile",
        description="Show the default profile, or make NAME the default. "
        f"{config.ENV_PROFILE} overrides it for one shell.",
        epilog=f"examples:\n  {PROG} profile default\n  {PROG} profile default prod\n",
    )
    default.add_argument("name", metavar="NAME", nargs="?", help="the profile to make the default")
    default.set_defaults(handler="profile default")

    sandbox = _subcommand(
        commands,
        "sandbox",
        common,
        help="run a local fake platform with demo data",
        description="Run the sandbox platform server in the foreground (Ctrl+C stops it). It "
        "prints its URL, client id and secret, and the command that syncs it.",
        epilog=SANDBOX_EPILOG,
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sandbox.add_argument(
        "--port",
        type=_int_between(0, 65535),
        default=8765,
        help="port (0 picks a free one; default 8765)",
    )
    sandbox.add_argument(
        "--events",
        type=_int_between(0),
        default=5000,
        metavar="N",
        help="synthetic events to serve (default 5000)",
    )
    sandbox.add_argument("--seed", type=int, default=1, metavar="N", help="random seed")
    faults = sandbox.add_argument_group("fault injection")
    faults.add_argument(
        "--rate-limit-every",
        type=_int_between(0),
        default=0,
        metavar="N",
        help="answer every Nth list request with 429",
    )
    faults.add_argument(
        "--retry-after",
        type=_non_negative_float,
        default=1.0,
        metavar="S",
        help="Retry-After seconds of those 429s (default 1)",
    )
    faults.add_argument(
        "--server-error-every",
        type=_int_between(0),
        default=0,
        metavar="N",
        help="answer every Nth list request with a 5xx",
    )
    faults.add_argument(
        "--token-ttl",
        type=_non_negative_float,
        metavar="S",
        help="tokens expire after S seconds (default 24 h)",
    )
    faults.add_argument(
        "--slow-page",
        type=_non_negative_float,
        default=0.0,
        metavar="S",
        help="wait S seconds before answering each list page",
    )
    faults.add_argument(
        "--malformed-every",
        type=_int_between(0),
        default=0,
        metavar="N",
        help="answer every Nth list request with an HTML page instead of JSON",
    )
    faults.add_argument(
        "--repeat-across-pages",
        action="store_true",
        help="start some pages with the previous page's last event again",
    )
    faults.add_argument(
        "--no-rate-limit", action="store_true", help="do not enforce the 10 requests/second limit"
    )
    faults.add_argument(
        "--poison",
        action="store_true",
        help="add events with poisoned times (year 1, 9999), NUL, lone surrogates, invalid "
        "UTF-8, and entries that are no event",
    )
    faults.add_argument(
        "--cycle-cursors", action="store_true", help="cursors cycle A -> B -> A from page 3"
    )
    faults.add_argument(
        "--repeat-page-forever",
        action="store_true",
        help="every page is the first one again, under a fresh cursor",
    )
    faults.add_argument(
        "--empty-pages-forever",
        action="store_true",
        help="after the last page, empty pages with fresh cursors, forever",
    )
    faults.add_argument(
        "--trickle",
        type=_non_negative_float,
        default=0.0,
        metavar="S",
        help="send list bodies one byte every S seconds (a stalled proxy)",
    )
    faults.add_argument(
        "--drop-mid-body-every",
        type=_int_between(0),
        default=0,
        metavar="N",
        help="cut every Nth list response off half way through its body",
    )
    faults.add_argument(
        "--forbidden-message",
        metavar="TEXT",
        help="answer every list request 403 with this reason",
    )
    faults.add_argument(
        "--forbidden",
        action="store_true",
        help="act as a non-administrator: every list call answers 403",
    )
    sandbox.set_defaults(handler="sandbox")
    return parser


#: Options whose value is free text that may start with "-" (``--query -bot``).
_FREE_TEXT_OPTIONS = ("--query",)


def _attach_free_text(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``--query -bot`` as ``--query=-bot``: argparse would take ``-bot`` for an option.

    A following word that is one of the command line's own options (``--query -o x.csv``, a
    forgotten value) is left alone, so argparse still says the value is missing.
    """
    known = _option_strings(parser)
    out: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "--":
            out += [word, *words]
            break
        if word in _FREE_TEXT_OPTIONS:
            value = next(words, None)
            if value is not None and value.startswith("-") and value not in known:
                out.append(f"{word}={value}")
                continue
            out += [word] if value is None else [word, value]
            continue
        out.append(word)
    return out


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of ``parser`` and its commands."""
    found: set[str] = set()
    for action in parser._actions:  # argparse has no public walk of its actions
        found.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _option_strings(sub)
    return found
