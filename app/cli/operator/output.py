"""Results on stdout: the API's JSON for scripts, or a fixed-width table for people."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import Any

from app.cli.operator.client import ExitCode, OperatorError

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


def pick(data: Any, path: str) -> Any:
    """The value at a dotted path (`execution.transaction_id`, `0.id` for a list's first item)."""
    value = data
    for step in path.split("."):
        if isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        elif isinstance(value, dict) and step in value:
            value = value[step]
        else:
            raise OperatorError(
                ExitCode.USAGE, f"the answer has no field {path!r} (see it whole with --json)"
            )
    return value


def show(args: argparse.Namespace, data: Any, render: Callable[[], str]) -> None:
    """One field with --get, the JSON with --json, else the rendered text."""
    if getattr(args, "get", None):
        value = pick(data, args.get)
        print(json.dumps(value) if isinstance(value, dict | list) else ("" if value is None else value))
    elif args.json:
        print_json(data)
    else:
        print(render())
