"""The benchmark report: Markdown tables with the date, command line and machine.

Sections build `Table`s from their measurements; `document` puts them under
one heading, ready to paste into README.md.  A setting that failed keeps its
row, with the error in place of numbers, so a long run still reports the rest.
"""

from __future__ import annotations

import os
import platform
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bench.stats import Stats, ms

_MAX_ERROR = 160  # characters of an error kept in a table cell


@dataclass(slots=True)
class Table:
    title: str
    note: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    failures: int = 0

    def add(self, *cells: str) -> None:
        if len(cells) != len(self.header):
            raise ValueError(f"{len(cells)} cells for {len(self.header)} columns")
        self.rows.append(cells)

    def add_failure(self, label: str, exc: BaseException) -> None:
        """A row naming what went wrong instead of numbers."""
        text = f"failed: {type(exc).__name__}: {exc}".replace("|", "/").replace("\n", " ")
        self.add(label, text[:_MAX_ERROR], *[""] * (len(self.header) - 2))
        self.failures += 1

    def markdown(self) -> str:
        lines = [f"**{self.title}**", ""]
        if self.note:
            lines += [self.note, ""]
        lines.append("| " + " | ".join(self.header) + " |")
        lines.append("|" + "---|" * len(self.header))
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


def stat_cells(samples: Sequence[float]) -> tuple[str, str, str, str]:
    """median, p90, max, n."""
    s = Stats.of(samples)
    return ms(s.median), ms(s.p90), ms(s.maximum), str(s.n)


def machine() -> str:
    cores = len(os.sched_getaffinity(0))
    python = platform.python_version()
    return f"{cores} cores (nproc), Linux {platform.release()}, Python {python}"


def document(tables: Sequence[Table], argv: Sequence[str], started: datetime,
             elapsed: float) -> str:
    command = shlex.join(["python3", "-m", "bench", *argv])
    head = (f"Measured {started:%Y-%m-%d %H:%M %Z} with `{command}` "
            f"(took {elapsed / 60:.1f} min) on {machine()}.")
    return "\n\n".join([head, *(table.markdown() for table in tables)]) + "\n"
