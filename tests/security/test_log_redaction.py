"""A key in a log line is masked wherever it sits, glued to other characters too.

The redactor once looked for a key between word boundaries, so `?k=<key>_x` (a key followed by
`_`, a word character) was logged with its whole secret. It now matches the key format itself.
"""

from __future__ import annotations

import io
import logging

from core import keyformat
from core.keyformat import PREFIX_LEN
from core.logs import build_handler
from core.settings import Settings


def test_a_key_glued_to_word_characters_is_masked_in_every_log_format(
        settings: Settings) -> None:
    team = keyformat.generate("team", settings.pepper_bytes).secret
    project = keyformat.generate("project", settings.pepper_bytes).secret
    lines = [f"GET /orgs/x?k={team}_x HTTP/1.1", f"token=x{project}y", f"{team}{project}",
             f"key={team}_{project}.", f"héllo{team}é"]
    for log_format in ("plain", "json"):
        stream = io.StringIO()
        handler = build_handler(settings.model_copy(update={"log_format": log_format}), stream)
        logger = logging.getLogger(f"lifecycle.test.redaction.{log_format}")
        logger.addHandler(handler)
        logger.propagate = False
        try:
            for line in lines:
                logger.warning("request %s", line)
            try:
                raise ValueError(f"bad key {team}_suffix")
            except ValueError:
                logger.exception("failed")
        finally:
            logger.removeHandler(handler)
        out = stream.getvalue()
        assert out.count("request") == len(lines), out  # every line was written
        for secret in (team, project):
            assert secret[PREFIX_LEN:] not in out, (log_format, out)
            assert secret[:PREFIX_LEN] in out  # the line still says which key it was
