"""The one rule for text people type, shared by the API's models, the console and the CLI.

Why one rule in the lowest layer: free text reaches the database (names, descriptions), mail
headers (an org name in a subject) and Temporal's history (a cancel reason), and each of those
outlives the request. A field that forgets the rule is a hole, so every free-text field is
declared with one of the types below (`FreeText`, `Name`), and a test walks every request model
of the API to check that none is a bare `str`.

- every text: no NUL (PostgreSQL cannot store it), no card number (checked on the decoded
  value, with any run of separators between the digits) and no API key secret (a key pasted
  into a description would be a secret at rest);
- a name-like field (names, e-mail addresses, URLs, confirmations) is one line: no control
  characters at all (CR, LF, tab, DEL, C1, the Unicode line and paragraph separators), so it
  can sit in a mail header, a log line or a table cell without adding lines to any of them.

The refusal never quotes the value: it may be the very card number being refused.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from core.cards import contains_card_number
from core.keyformat import KEY_IN_TEXT

NUL = "\x00"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
NUL_PROBLEM = "must not contain NUL (U+0000) characters"
CONTROL_PROBLEM = "must be one line without control characters (CR, LF, tab, ...)"
CARD_PROBLEM = "looks like it holds a card number: card numbers are never accepted"
KEY_PROBLEM = "holds an API key secret: secrets are never accepted in text"


def text_problem(value: str, *, one_line: bool = False) -> str | None:
    """What is wrong with `value` as typed text, or None when it is acceptable."""
    if NUL in value:
        return NUL_PROBLEM
    if one_line and _CONTROL.search(value):
        return CONTROL_PROBLEM
    if contains_card_number(value):
        return CARD_PROBLEM
    if KEY_IN_TEXT.search(value):
        return KEY_PROBLEM
    return None


def has_control(value: str) -> bool:
    return _CONTROL.search(value) is not None


def _free_text(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _one_line(value: str) -> str:
    problem = text_problem(value, one_line=True)
    if problem is not None:
        raise ValueError(problem)
    return value


# The marker a test looks for on every `str` field of a request model.
FREE_TEXT_GUARD = AfterValidator(_free_text)
ONE_LINE_GUARD = AfterValidator(_one_line)
GUARDS = (FREE_TEXT_GUARD, ONE_LINE_GUARD)

FreeText = Annotated[str, FREE_TEXT_GUARD]
"""Multi-line text (descriptions, reasons): no NUL, no card number."""
OneLine = Annotated[str, ONE_LINE_GUARD]
"""A name, address or confirmation: one line, no control characters, no card number."""


def duration(seconds: float) -> str:
    """A span for people: `6d 23h 59m`, `2h 5m`, `4m 10s`."""
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h {minutes}m"
    return f"{hours}h {minutes}m" if hours else f"{minutes}m {int(seconds) % 60}s"
