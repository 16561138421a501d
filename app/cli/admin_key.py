"""`admin-key`: write a new bootstrap platform-admin API key to a 0600 file (never printed)."""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path
from typing import Any

from app.security.private_files import write_private_file


def add_parser(commands: Any) -> None:
    """Register the `admin-key` subcommand."""
    parser = commands.add_parser(
        "admin-key",
        help="create the bootstrap admin API key file (mode 0600)",
        description="Write a new random platform-admin API key to a file readable only by you (mode 0600); "
        "the key is never printed. The service reads it from MCP_ADMIN_API_KEY_FILE, and the key creates "
        "tenants and their keys (Authorization: Bearer <key>). An existing file is kept, so running this "
        "again is safe; delete the file first to replace the key. make run and make serve call it for "
        "data/admin.key.",
    )
    parser.add_argument("--out", type=Path, required=True, help="file to create; an existing file is kept")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Create the key file unless it exists; say where it is and how to use it."""
    path: Path = args.out
    if path.exists():
        print(f"admin key file {path} already exists; keeping it", file=sys.stderr)
    else:
        write_private_file(path, ("mcp_admin_" + secrets.token_urlsafe(32) + "\n").encode())
        print(f"wrote a new admin API key to {path} (mode 0600)", file=sys.stderr)
    print(f"use it with: export MCP_ADMIN_API_KEY_FILE={path}", file=sys.stderr)
    return 0
