"""The `RESULT` line every benchmark ends with, written and read in one place.

`RESULT name=<bench> ratio=<x> key=value ...`: one line a collector can parse (the smoke tests,
`bench.report` rewriting the figures table), so its writer and its reader must agree; values
carry no spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RESULT = re.compile(r"^RESULT name=(?P<name>\w+) ratio=(?P<ratio>[0-9.]+)(?P<rest>( \w+=\S+)*)$",
                    re.MULTILINE)


def result_line(name: str, ratio: float, **fields: object) -> str:
    """The one line a collector parses: `RESULT name=<bench> ratio=<x> key=value ...`."""
    parts = [f"name={name}", f"ratio={ratio:.3f}"]
    for key, value in fields.items():
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={shown.replace(' ', '')}")
    return "RESULT " + " ".join(parts)


@dataclass(frozen=True)
class Result:
    name: str
    ratio: float
    fields: dict[str, str]

    def number(self, key: str) -> float:
        """A numeric field (`ratio` included); a missing one is an error naming the line."""
        if key == "ratio":
            return self.ratio
        if key not in self.fields:
            raise KeyError(f"RESULT name={self.name} has no {key}")
        return float(self.fields[key])


def parse_results(text: str) -> list[Result]:
    """Every `RESULT` line in `text`, in order."""
    return [Result(m["name"], float(m["ratio"]),
                   dict(pair.split("=", 1) for pair in m["rest"].split()))
            for m in RESULT.finditer(text)]
