"""Reading CSV and JSONL files into rows, with the line number of every row kept for errors.

A row is a dict of field -> value. Row numbers are file line numbers (the CSV header is
line 1), so an error message points where an editor does.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from jobs.data.dataset import DataError

TABLE_SUFFIXES = (".csv", ".jsonl", ".ndjson")


@dataclass
class Table:
    """rows: (line number, row dict) pairs; header: the CSV column names (None for JSONL)."""

    file: str
    rows: list[tuple[int, dict]]
    header: list[str] | None = None

    def require(self, fields: list[str]) -> None:
        """Raise on the first place that lacks one of `fields`: the CSV header, or a JSONL line."""
        for name in fields:
            if self.header is not None and name not in self.header:
                raise DataError(f"missing column (columns: {', '.join(self.header)})",
                                file=self.file, row=1, field=name)
        for line_number, row in self.rows:
            for name in fields:
                if name not in row:
                    raise DataError(f"missing field (fields: {', '.join(map(str, row))})",
                                    file=self.file, row=line_number, field=name)


def read_jsonl(path: Path) -> Table:
    """Every non-blank line of a JSON-lines file, each a JSON object."""
    rows: list[tuple[int, dict]] = []
    with _open(path) as handle:
        for line_number, line in _lines(handle, path):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"invalid JSON: {error.msg} (column {error.colno})",
                                file=str(path), row=line_number) from None
            except RecursionError:  # json's C decoder recurses once per nesting level
                raise DataError("invalid JSON: nested too deeply (a row is one flat JSON object)",
                                file=str(path), row=line_number) from None
            if not isinstance(value, dict):
                raise DataError(f"expected a JSON object, got {type(value).__name__}",
                                file=str(path), row=line_number)
            rows.append((line_number, value))
    return Table(str(path), rows)


def read_csv(path: Path) -> Table:
    """Every data row of a CSV file whose first line names the columns."""
    with _open(path) as handle:
        reader = csv.DictReader(handle)
        rows: list[tuple[int, dict]] = []
        try:
            if not reader.fieldnames:
                raise DataError("empty CSV file (no header line)", file=str(path), row=1)
            for row in reader:
                if None in row:  # DictReader files surplus cells under the key None
                    raise DataError(f"{len(reader.fieldnames) + len(row[None])} cells for "
                                    f"{len(reader.fieldnames)} columns", file=str(path), row=reader.line_num)
                rows.append((reader.line_num, row))
        except csv.Error as error:
            raise DataError(f"unreadable CSV: {error}", file=str(path), row=reader.line_num) from None
        except UnicodeDecodeError:
            raise DataError("not UTF-8 text", file=str(path), row=reader.line_num + 1) from None
    return Table(str(path), rows, header=list(reader.fieldnames))


def read_table(path: Path) -> Table:
    """A .csv or .jsonl/.ndjson file, chosen by suffix."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv(path)
    if suffix in (".jsonl", ".ndjson"):
        return read_jsonl(path)
    raise DataError(f"unsupported file type '{suffix}'; use {', '.join(TABLE_SUFFIXES)}", file=str(path))


def _lines(handle, path: Path):
    """(line number, line) pairs, with undecodable bytes reported as one DataError line."""
    line_number = 0
    try:
        for line_number, line in enumerate(handle, start=1):
            yield line_number, line
    except UnicodeDecodeError:
        raise DataError("not UTF-8 text", file=str(path), row=line_number + 1) from None


def _open(path: Path):
    try:
        # utf-8-sig: spreadsheet exports often start with a byte-order mark
        return open(path, encoding="utf-8-sig", newline="")
    except OSError as error:
        raise DataError(f"cannot read: {error.strerror}", file=str(path)) from None
