"""Structure inside an event: the ``Key: 'value'`` pairs of a description, the extra fields.

The platform writes descriptions like ``2 findings ignored, Reason: 'false_positive', Comment:
'Not relevant', Ignore rule ID: 'd495…'``. Values are free text, so they may hold apostrophes
(``won't``), commas, or quotes escaped as ``\\'`` or doubled as ``''``. A value therefore ends
at the quote that is followed by the next ``Key: '`` or the end of the text; failing that, at
the first quote that ends a word. Both functions accept anything and never raise.
"""

from __future__ import annotations

import json
import re
from typing import Any

from audit_viewer.events import KNOWN_FIELDS

# A key: up to four words of letters, digits, ``_`` or ``-``, the first starting with a letter.
_KEY = r"[^\W\d_][\w\-]*(?: [\w\-]+){0,3}"
_PAIR_START = re.compile(rf"(?:^|(?<=[,;\s]))({_KEY})\s*:\s*'")
# After a closing quote: the end of the text, or the next pair.
_CLOSES = re.compile(rf"\s*(?:[,;.]\s*)?(?:$|{_KEY}\s*:\s*')")
# After a quote that at least ends a word.
_WORD_END = re.compile(r"\s|[,;.)]|$")


def parse_pairs(description: str) -> list[tuple[str, str]]:
    """The ``Key: 'value'`` pairs of ``description``, in order (unescaped values)."""
    pairs: list[tuple[str, str]] = []
    position = 0
    while True:
        start = _PAIR_START.search(description, position)
        if start is None:
            return pairs
        value, position = _value(description, start.end())
        pairs.append((start.group(1), value))


def _value(text: str, start: int) -> tuple[str, int]:
    """Read a value that starts after its opening quote; returns it and where it ended."""
    chars: list[str] = []
    fallback: tuple[str, int] | None = None
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\" and text[index + 1 : index + 2] in ("'", "\\"):
            chars.append(text[index + 1])
            index += 2
            continue
        if char == "'":
            if _CLOSES.match(text, index + 1):
                return "".join(chars), index + 1
            if fallback is None and _WORD_END.match(text, index + 1):
                fallback = ("".join(chars), index + 1)
            if text.startswith("''", index):  # a doubled quote stands for one
                chars.append("'")
                index += 2
                continue
        chars.append(char)
        index += 1
    return fallback or ("".join(chars), len(text))  # no closing quote: the rest of the text


def extra_fields(raw_json: str) -> dict[str, Any]:
    """The fields of the raw event that the contract does not name (``ip_address``, ...)."""
    try:
        event = json.loads(raw_json)
    except (TypeError, ValueError, RecursionError):
        return {}
    if not isinstance(event, dict):
        return {}
    return {key: value for key, value in event.items() if key not in KNOWN_FIELDS}
