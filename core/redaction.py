"""Scrubbing secrets out of text that leaves the process (log lines).

The code never logs a secret on purpose; this is the net under that rule. A line can still
carry one by accident: an exception message that quotes a request, a library that logs a URL
or a header. So every log line passes through a `Redactor` that blanks

- API keys, recognised by their format (`olt_`/`olp_` + random part + checksum) wherever they
  sit, glued to other characters too (`?k=<key>_x`): the public prefix stays, so the line
  still says which key was involved;
- bearer tokens after the word `Bearer`;
- the exact values of the process's own secrets (the pepper, the operator token, the SMTP
  password), which have no recognisable shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import SecretStr

from core.keyformat import KEY_IN_TEXT
from core.settings import Settings

MASK = "[redacted]"
# Shorter literal secrets are refused: blanking every "abc" in every line helps nobody.
MIN_LITERAL_LEN = 8

_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s'\",;]+")


class Redactor:
    """Callable that returns its text with every known kind of secret masked."""

    def __init__(self, literals: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self._literals = sorted({s for s in literals if len(s) >= MIN_LITERAL_LEN},
                                key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for literal in self._literals:
            if literal in text:
                text = text.replace(literal, MASK)
        text = KEY_IN_TEXT.sub(rf"\1{MASK}", text)
        return _BEARER.sub(rf"\1{MASK}", text)


def settings_secrets(settings: Settings) -> list[str]:
    """Every `SecretStr` setting's value: new secret settings are covered without a list here."""
    return [value.get_secret_value() for name in type(settings).model_fields
            if isinstance(value := getattr(settings, name), SecretStr)]
