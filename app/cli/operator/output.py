"""Results on stdout: the API's JSON for scripts, or a fixed-width table for people."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

Column = tuple[str, Callable[[dict[str, Any]], Any]]


def print_json(data: Any) -> None:
    """The document as indented JSON."""
    print(json.dumps(data, indent=2, sort_keys=False, default=str))


def cell(value: Any) -> str:
    """A value as a table cell: '-' for nothing, times to the second."""
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    text = str(value)
    if len(text) >= 19 and text[4:5] == "-" and text[10:11] == "T":  # an ISO time from the API
        return text[:19].replace("T", " ")
    return text


def table(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> str:
    """Rows under a header, each column as wide as its widest cell."""
    cells = [[cell(read(row)) for _, read in columns] for row in rows]
    widths = [max([len(title), *(len(line[i]) for line in cells)]) for i, (title, _) in enumerate(columns)]
    lines = [
        "  ".join(title.ljust(width) for (title, _), width in zip(columns, widths, strict=True)).rstrip()
    ]
    lines += [
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    ]
    return "\n".join(lines)


def fields(pairs: Sequence[tuple[str, Any]]) -> str:
    """`name   value` lines, names aligned."""
    width = max(len(name) for name, _ in pairs)
    return "\n".join(f"{name.ljust(width)}  {cell(value)}" for name, value in pairs)


def show(json_wanted: bool, data: Any, render: Callable[[], str]) -> None:
    """The JSON when asked for, else the rendered text."""
    if json_wanted:
        print_json(data)
    else:
        print(render())
