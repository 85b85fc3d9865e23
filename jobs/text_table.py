"""Plain-text tables for the terminal and for logs: a title, a header, a rule, aligned columns.

No colour and no width of the terminal to guess: a table printed to a pipe or a log reads as it
does on the screen (the CLI's metrics, Table 1, and the service's experiment tables use it).
"""
from __future__ import annotations

from collections.abc import Collection, Sequence


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str = "",
               right: Collection[str] = ()) -> str:
    """The table as lines ending in a newline; `right` names the right-aligned columns."""
    widths = [max([len(header), *(len(row[i]) for row in rows)]) for i, header in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.rjust(width) if header in right else cell.ljust(width)
                         for cell, width, header in zip(cells, widths, headers, strict=True)).rstrip()

    lines = [title] if title else []
    lines += [line(headers), "  ".join("-" * width for width in widths), *(line(row) for row in rows)]
    return "\n".join(lines) + "\n"
