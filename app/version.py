"""The installed package's version, the one source for `--version` and the OpenAPI document."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "lightning-fee-control-plane"


def package_version() -> str:
    """The version pip installed (pyproject.toml's), or a marker when run from an uninstalled tree."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0+unknown (not installed: run make install)"
