"""Check a production configuration before starting the service: settings, safety limits, permissions, reachability.

Usage: .venv/bin/python scripts/validate_production_config.py [--env-file FILE] [--node-url URL] [--timeout S]
Reads the MCP_* settings from FILE (else from the environment), then reports errors and warnings:
required settings and secrets, the decision profile's safety limits (fee max <= 2,500 ppm, cooldown >= 12 h,
...), manual approval, file permissions (0600 secrets and env file, 0700 data dir), and whether MongoDB,
Redis and, with --node-url, a node's REST endpoint answer within the timeout. Exit code 1 on any error.
Secrets and URLs are never printed, only host:port.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import ValidationError

from app.engine.profile import load_profiles
from app.errors import ConfigError
from app.settings import Settings, settings_problems

# Sane bounds for a production profile's hard limits (DESIGN.md "Gossip limits": under 12 h is pointless).
FEE_RATE_MAX_PPM = 2_500
COOLDOWN_MIN_HOURS = 12.0
DAILY_CAP_MAX = 50
STEP_RATIO_MAX = 1.0
BASE_FEE_MAX_MSAT = 100_000
SECRET_FILES = ("master_key_file", "extra_master_key_file", "admin_api_key_file")


@dataclass
class Report:
    """What the checks found."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)

    def check(self, ok: bool, passed: str, failed: str, *, error: bool = True) -> None:
        """Record one check's outcome."""
        if ok:
            self.passed.append(passed)
        else:
            (self.errors if error else self.warnings).append(failed)

    def print(self) -> None:
        """One line per finding, then the summary."""
        for line in self.passed:
            print(f"  ok    {line}")
        for line in self.warnings:
            print(f"  WARN  {line}")
        for line in self.errors:
            print(f"  ERROR {line}")
        print(
            f"{len(self.errors)} error(s), {len(self.warnings)} warning(s), {len(self.passed)} check(s) passed"
        )


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (comments, blank lines and `export ` allowed; quotes around a value removed)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ConfigError(f"{path}:{number}: not a KEY=VALUE line")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def load_settings(values: dict[str, str], report: Report) -> Settings | None:
    """Settings from exactly these MCP_* values (the process's own MCP_* variables are set aside)."""
    for key in [key for key in os.environ if key.startswith("MCP_")]:
        del os.environ[key]
    os.environ.update({key: value for key, value in values.items() if key.startswith("MCP_")})
    try:
        settings = Settings()
    except ValidationError as exc:
        report.errors.append(f"invalid setting: {settings_problems(exc)}")
        return None
    known = {f"MCP_{name.upper()}" for name in Settings.model_fields}
    # Read by the entry point and start_api.sh, not by the service's settings.
    known |= {
        "MCP_HOST",
        "MCP_PORT",
        "MCP_WAIT_TIMEOUT_S",
        "MCP_GRACEFUL_SHUTDOWN_S",
        "MCP_FORWARDED_ALLOW_IPS",
    }
    known |= {"MCP_VENV"}
    for key in sorted(set(values) - known):
        if key.startswith("MCP_"):
            report.warnings.append(f"{key} is not a setting of this version (typo?)")
    report.passed.append("every MCP_* value parses")
    return settings


def mode_of(path: Path) -> int:
    """Permission bits of `path`."""
    return stat.S_IMODE(path.stat().st_mode)


def check_files(settings: Settings, env_file: Path | None, report: Report) -> None:
    """Secrets 0600 (or 0400), the env file too, the data and backup folders 0700."""
    if env_file is not None:
        mode = mode_of(env_file)
        report.check(
            mode & 0o077 == 0,
            f"{env_file} is {mode:04o}",
            f"{env_file} has mode {mode:04o}: chmod 600 {env_file}",
        )
    for name in SECRET_FILES:
        path: Path | None = getattr(settings, name)
        variable = f"MCP_{name.upper()}"
        if path is None:
            continue
        if not path.is_file():
            report.errors.append(f"{variable}={path} does not exist")
            continue
        mode = mode_of(path)
        report.check(
            mode & 0o177 == 0,
            f"{variable} is {mode:04o}",
            f"{variable}={path} has mode {mode:04o}: chmod 600 {path}",
        )
    for variable, folder in (("MCP_DATA_DIR", settings.data_dir), ("MCP_BACKUP_DIR", settings.backups_path)):
        if not folder.is_dir():
            report.check(
                variable == "MCP_BACKUP_DIR",
                f"{variable} will be created by the service",
                f"{variable}={folder} does not exist: install -d -m 0700 {folder}",
            )
            continue
        mode = mode_of(folder)
        report.check(
            mode & 0o077 == 0,
            f"{variable} is {mode:04o}",
            f"{variable}={folder} has mode {mode:04o}: chmod 700 {folder}",
        )


def check_settings(settings: Settings, values: dict[str, str], report: Report) -> None:
    """Required settings, secrets kept out of the env file, and the safer defaults."""
    has_key = any(
        value is not None
        for value in (settings.master_key, settings.master_key_file, settings.master_passphrase)
    )
    report.check(
        has_key, "vault master key configured", "no vault master key: set MCP_MASTER_KEY_FILE (0600 file)"
    )
    for inline, better in (
        ("MCP_MASTER_KEY", "MCP_MASTER_KEY_FILE"),
        ("MCP_ADMIN_API_KEY", "MCP_ADMIN_API_KEY_FILE"),
    ):
        if values.get(inline):
            report.warnings.append(
                f"{inline} holds a secret in the environment: prefer {better} (a 0600 file)"
            )
    has_admin = settings.admin_api_key is not None or settings.admin_api_key_file is not None
    report.check(
        has_admin,
        "bootstrap admin key configured",
        "no MCP_ADMIN_API_KEY_FILE: no one can create tenants",
        error=False,
    )
    report.check(
        settings.mongodb_url is not None,
        "MCP_MONGODB_URL set",
        "MCP_MONGODB_URL unset: the embedded database serves one replica only",
        error=False,
    )
    report.check(
        settings.redis_url is not None,
        "MCP_REDIS_URL set",
        "MCP_REDIS_URL unset: each replica caches on its own",
        error=False,
    )
    report.check(
        not settings.allow_private_node_urls,
        "node URLs must be public (MCP_ALLOW_PRIVATE_NODE_URLS=false)",
        "MCP_ALLOW_PRIVATE_NODE_URLS=true: tenants may point the service at your LAN (fine for a single-tenant host)",
        error=False,
    )
    report.check(
        settings.graph_file.is_file(),
        f"graph file {settings.graph_file.name} present",
        f"MCP_GRAPH_FILE={settings.graph_file} does not exist: the service would score on a SYNTHETIC graph",
    )


def check_limits(settings: Settings, report: Report) -> None:
    """The decision profile's hard safety limits within sane bounds; manual approval on."""
    try:
        profile = load_profiles(settings.thresholds_file).get(settings.profile)
    except ConfigError as exc:
        report.errors.append(exc.message)
        return
    limits, name = profile.limits, f"profile {profile.name!r}"
    report.check(
        limits.fee_rate_max_ppm <= FEE_RATE_MAX_PPM,
        f"{name}: fee max {limits.fee_rate_max_ppm} ppm",
        f"{name}: fee_rate_max_ppm {limits.fee_rate_max_ppm} exceeds {FEE_RATE_MAX_PPM}",
    )
    report.check(
        limits.cooldown_hours >= COOLDOWN_MIN_HOURS,
        f"{name}: cooldown {limits.cooldown_hours:g} h",
        f"{name}: cooldown_hours {limits.cooldown_hours:g} is under {COOLDOWN_MIN_HOURS:g} (gossip: ~2 updates a day)",
    )
    report.check(
        0 < limits.daily_cap <= DAILY_CAP_MAX,
        f"{name}: daily cap {limits.daily_cap}",
        f"{name}: daily_cap {limits.daily_cap} is outside 1..{DAILY_CAP_MAX}",
    )
    report.check(
        limits.max_step_ratio <= STEP_RATIO_MAX,
        f"{name}: step cap {limits.max_step_ratio:g}",
        f"{name}: max_step_ratio {limits.max_step_ratio:g} lets one change more than double a fee",
    )
    report.check(
        limits.base_fee_max_msat <= BASE_FEE_MAX_MSAT,
        f"{name}: base fee max {limits.base_fee_max_msat} msat",
        f"{name}: base_fee_max_msat {limits.base_fee_max_msat} exceeds {BASE_FEE_MAX_MSAT}",
    )
    report.check(
        not limits.allow_positive_inbound,
        f"{name}: positive inbound fees refused",
        f"{name}: allow_positive_inbound is on (LND rejects them by default)",
    )
    report.check(
        limits.require_manual_approval,
        f"{name}: manual approval required",
        f"{name}: require_manual_approval is off: canary and live cycles write without an operator "
        "(MCP_PROFILE=conservative keeps it on)",
        error=False,
    )


def where(url: str, default_port: int) -> str:
    """host:port of a URL, never its credentials."""
    parts = urlsplit(url)
    return f"{parts.hostname or '?'}:{parts.port or default_port}"


async def reachable(settings: Settings, node_url: str | None, timeout_s: float, report: Report) -> None:
    """MongoDB, Redis and the node's REST endpoint, each within `timeout_s`."""
    if settings.mongodb_url is not None:
        from app.storage.database import connect

        url = settings.mongodb_url.get_secret_value()
        client = connect(url, int(timeout_s * 1000))
        try:
            await asyncio.wait_for(client.admin.command("ping"), timeout_s)
            report.passed.append(f"MongoDB at {where(url, 27017)} answers")
        except Exception as exc:  # any failure means "not reachable"; its class says which
            report.errors.append(
                f"MongoDB at {where(url, 27017)} did not answer within {timeout_s:g} s ({type(exc).__name__})"
            )
        finally:
            await client.close()
    if settings.redis_url is not None:
        import redis.asyncio as redis

        url = settings.redis_url.get_secret_value()
        cache = redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        try:
            await asyncio.wait_for(cache.ping(), timeout_s)
            report.passed.append(f"Redis at {where(url, 6379)} answers")
        except Exception as exc:  # as above
            report.errors.append(
                f"Redis at {where(url, 6379)} did not answer within {timeout_s:g} s ({type(exc).__name__})"
            )
        finally:
            await cache.aclose()
    if node_url is not None:
        import httpx

        # Any HTTP answer (401 without a macaroon included) proves the endpoint is there; the node's own
        # self-signed certificate is pinned at registration, not here.
        try:
            async with httpx.AsyncClient(verify=False, timeout=timeout_s) as client_http:
                answer = await client_http.get(node_url.rstrip("/") + "/v1/getinfo")
            report.passed.append(f"node at {where(node_url, 443)} answers (HTTP {answer.status_code})")
        except httpx.HTTPError as exc:
            report.errors.append(
                f"node at {where(node_url, 443)} did not answer within {timeout_s:g} s ({type(exc).__name__})"
            )


def main(argv: list[str] | None = None) -> int:
    """Run every check and print the report; 1 when there is an error."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env-file", type=Path, help="MCP_* settings file (default: the environment)")
    parser.add_argument("--node-url", help="a node's REST URL to reach, e.g. https://10.0.0.5:8080")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per reachability check")
    args = parser.parse_args(argv)
    report = Report()
    try:
        values = read_env_file(args.env_file) if args.env_file else dict(os.environ)
    except (OSError, ConfigError) as exc:
        print(f"cannot read the settings: {exc}", file=sys.stderr)
        return 1
    print(f"checking {'the environment' if args.env_file is None else args.env_file}")
    settings = load_settings(values, report)
    if settings is not None:
        check_settings(settings, values, report)
        check_files(settings, args.env_file, report)
        check_limits(settings, report)
        asyncio.run(reachable(settings, args.node_url, args.timeout, report))
    report.print()
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
