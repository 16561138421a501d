"""One Telegram message (HTML parse mode) from the alerts due for a chat; every text from outside is escaped."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime

from app.alerts.model import OutboxEntry, Severity
from app.alerts.telegram import MESSAGE_LIMIT

TITLE = "Lightning fee control plane"
MARK = {Severity.CRITICAL: "🔴", Severity.WARNING: "🟠", Severity.INFO: "🔵"}


def render_entry(entry: OutboxEntry) -> str:
    """One alert as an HTML block: severity, kind, node, time, the message, and how often it repeated."""
    moment = datetime.fromtimestamp(entry.created_ms / 1_000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"{MARK[entry.severity]} <b>{html.escape(entry.kind)}</b> · node <code>{html.escape(entry.node_id)}</code>"
        f" · {moment}",
        html.escape(entry.message),
    ]
    if entry.repeats:
        lines.append(f"<i>(and {entry.repeats} more time{'s' if entry.repeats > 1 else ''} since)</i>")
    return "\n".join(lines)


def render_message(entries: Sequence[OutboxEntry]) -> tuple[str, list[OutboxEntry]]:
    """The message text and the entries it holds: as many, oldest first, as fit Telegram's limit.

    Entries left out stay pending and go in the next message; the first one always goes (its text is
    capped when stored), so a chat never waits behind one oversized alert.
    """
    heading = f"<b>{TITLE}</b>"
    blocks: list[str] = []
    included: list[OutboxEntry] = []
    size = len(heading)
    for entry in entries:
        block = render_entry(entry)
        footer = 60  # room for the "more to come" line
        if included and size + 2 + len(block) + footer > MESSAGE_LIMIT:
            break
        blocks.append(block)
        included.append(entry)
        size += 2 + len(block)
    left = len(entries) - len(included)
    text = "\n\n".join([heading, *blocks])
    if left:
        text += f"\n\n<i>{left} more alert{'s' if left > 1 else ''} in the next message</i>"
    return text, included
