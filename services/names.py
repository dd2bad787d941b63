"""The rule for names people type (projects, datasets): checked here so every caller shares it.

Why in the service and not only in the API's schemas: the console and the seed command create
projects and datasets too, and a name must be refused the same way whoever sends it. A name
is 1-200 characters, not blank, without control characters (a name is shown in tables and
terminals, one line each) and without anything that looks like a card number (card numbers
are refused in every field): the rule of `core.text` for one-line text, plus a length.
"""

from __future__ import annotations

import re

from core.problems import InvalidInput
from core.text import has_control, text_problem

MAX_NAME = 200
# For the API's schemas: the same rule as a JSON Schema pattern (no control characters, not
# blank), so the OpenAPI page and schema fuzzers know it too.
NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"


def check_name(name: str, field: str = "name") -> str:
    """`name` when acceptable; otherwise a 422 naming `field` (the value is never echoed)."""
    if not name or not name.strip() or len(name) > MAX_NAME:
        raise InvalidInput(f"{field} must be 1-{MAX_NAME} characters and not blank",
                           field=field)
    problem = text_problem(name, one_line=True)
    if problem is not None:
        raise InvalidInput(f"{field} {problem}", field=field)
    return name


EMAIL_MAX = 320
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def check_email(email: str, field: str = "email") -> str:
    """`email`, stripped, when it looks like an address; otherwise a 422 naming `field`."""
    email = email.strip()
    if len(email) > EMAIL_MAX or not re.fullmatch(EMAIL_PATTERN, email) \
            or has_control(email) or text_problem(email) is not None:
        raise InvalidInput(f"{field} must be an email address", field=field)
    return email
