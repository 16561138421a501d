"""Service settings from the environment (prefix MCP_), frozen after start-up."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The public snapshot lives beside the project (it comes from another project's repository and is never copied in).
DEFAULT_GRAPH_FILE = PROJECT_ROOT.parent / "shared" / "data" / "graph" / "describegraph-2026-02-03.json.gz"
DEFAULT_THRESHOLDS_FILE = PROJECT_ROOT / "config" / "decision_thresholds.yaml"
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"


class Settings(BaseSettings):
    """Every tunable of the service; read once, never mutated at runtime."""

    model_config = SettingsConfigDict(env_prefix="MCP_", frozen=True, extra="ignore")

    graph_file: Path = Field(default=DEFAULT_GRAPH_FILE, description="LND GET /v1/graph JSON, plain or .gz")
    thresholds_file: Path = Field(
        default=DEFAULT_THRESHOLDS_FILE, description="weights and thresholds per profile"
    )
    profile: str | None = Field(default=None, description="decision profile; the file's default when unset")
    centrality_samples: int = Field(default=256, ge=16, le=100_000, description="betweenness pivots")
    closeness_samples: int = Field(default=128, ge=16, le=100_000, description="harmonic-closeness pivots")
    centrality_seed: int = 42
    synthetic_graph_seed: int = 7
    sandbox_seed: int = 42
    sandbox_lnd_host: str = Field(default="127.0.0.1", description="`sandbox lnd`: address to listen on")
    sandbox_lnd_port: int = Field(
        default=18080, ge=0, le=65_535, description="`sandbox lnd`: port (0: any free)"
    )
    sandbox_lnd_dir: Path = Field(
        default=PROJECT_ROOT / "data" / "sandbox-lnd",
        description="`sandbox lnd`: where macaroons, tls.cert and the sandbox token are written",
    )
    sandbox_lnd_clock_speed: float = Field(
        default=1.0, ge=0.0, description="`sandbox lnd`: simulated seconds per wall-clock second (0: frozen)"
    )
    worker_threads: int = Field(default=2, ge=1, le=64, description="threads for graph algorithms")
    # Vault master key (app/security/keys.py): the first of key, key file, passphrase that is set wins.
    master_key: SecretStr | None = Field(default=None, description="base64 of the 32-byte vault master key")
    master_key_file: Path | None = Field(
        default=None, description="file with the master key; mode 0600 or 0400"
    )
    master_passphrase: SecretStr | None = Field(
        default=None, description="passphrase the master key is derived from with scrypt"
    )
    master_salt_file: Path | None = Field(
        default=None, description="per-installation scrypt salt; <data_dir>/master-key.salt when unset"
    )
    extra_master_key_file: Path | None = Field(
        default=None, description="a second key used only to decrypt (the old or next key around a rotation)"
    )
    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR, description="local state: embedded database, passphrase salt, demo files"
    )
    admin_api_key: SecretStr | None = Field(default=None, description="bootstrap platform-admin API key")
    admin_api_key_file: Path | None = Field(default=None, description="file holding it (mode 0600)")
    rate_limit_per_second: int = Field(
        default=20, ge=1, le=10_000, description="requests per API key per second"
    )
    health_interval_s: float = Field(default=2.0, gt=0, description="how often storage health is checked")
    schedule_enabled: bool = Field(default=True, description="run periodic shadow cycles for every node")
    schedule_interval_s: float = Field(default=3600.0, ge=60, description="seconds between scheduled passes")
    schedule_jitter_s: float = Field(default=300.0, ge=0, description="random extra delay per pass")
    node_circuit_cooldown_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="how long a node's open circuit refuses calls before one probe",
    )
    request_deadline_s: float = Field(
        default=10.0,
        ge=0,
        le=300,
        description="a sync or optimize answers within this; longer work answers 202 with a job to poll",
    )
    node_call_deadline_s: float = Field(
        default=20.0,
        gt=0,
        le=600,
        description="one call to a node, connect + TLS + read and retries, ends within this (LNbits: at least "
        "its read timeout + 5 s)",
    )
    sync_deadline_s: float = Field(
        default=300.0, gt=0, le=3_600, description="one sync of a node (every read it needs) ends within this"
    )
    allow_private_node_urls: bool = Field(
        default=False,
        description="accept node URLs on loopback, private and link-local addresses (single-tenant installs, "
        "the demo and the tests); the API's own port is refused either way",
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1_024, le=64 * 1_048_576, description="larger request bodies are answered 413"
    )
    auth_failures_per_minute: int = Field(
        default=30, ge=1, le=100_000, description="failed authentications per client address per minute"
    )
    # LNbits nodes: LNbits is usually local and answers each channel read after several calls to its node.
    lnbits_requests_per_second: float = Field(
        default=100.0, gt=0, le=10_000, description="request rate to one LNbits server"
    )
    lnbits_read_timeout_s: float = Field(
        default=45.0,
        gt=0,
        le=600,
        description="read timeout for LNbits (its own node calls time out at 30 s)",
    )
    # LNbits serves one request at a time (measured: 80-130 req/s at any concurrency); a few in flight
    # hide the network round trip, more only queue inside LNbits.
    lnbits_concurrency: int = Field(
        default=4, ge=1, le=128, description="per-channel reads in flight to one LNbits server"
    )
    # Live execution (app/policy/, app/services/execution.py).
    node_lease_s: float = Field(
        default=60.0,
        ge=1.0,
        le=3_600,
        description="node lease lifetime; renewed every third of it while held",
    )
    decision_max_age_hours: float = Field(
        default=6.0, gt=0, le=168, description="a decision not acted on within this age expires"
    )
    write_concurrency: int = Field(default=4, ge=1, le=32, description="policy writes in flight per node")
    unknown_settle_s: float = Field(
        default=30.0,
        ge=0,
        le=3_600,
        description="how long an unanswered write may still land before it is judged",
    )
    recovery_interval_s: float = Field(
        default=60.0, gt=0, le=86_400, description="how often unfinished transactions are resumed"
    )
    # Backups: hot in MongoDB, cold as gzip JSON files under backup_dir (default <data_dir>/backups).
    backup_dir: Path | None = Field(default=None, description="cold backups; <data_dir>/backups when unset")
    backup_hot_days: float = Field(default=7.0, gt=0, le=3_650, description="days a backup stays in MongoDB")
    backup_cold_days: float = Field(
        default=90.0, gt=0, le=36_500, description="days a cold backup file is kept"
    )
    maintenance_interval_s: float = Field(
        default=3_600.0, gt=0, le=86_400, description="how often backups are checked, exported and expired"
    )
    backup_interval_hours: float = Field(
        default=24.0, gt=0, le=8_760, description="how often every channel of every node is backed up"
    )
    # Automatic rollback after a live batch, judged against the node's own baseline.
    rollback_check_interval_s: float = Field(
        default=300.0, gt=0, le=86_400, description="health check period"
    )
    rollback_watch_hours: float = Field(default=24.0, gt=0, le=720, description="how long a batch is watched")
    rollback_min_samples: int = Field(default=3, ge=1, le=1_000, description="health samples before judging")
    rollback_error_rate: float = Field(default=0.5, gt=0, le=1, description="node error rate that rolls back")
    rollback_latency_factor: float = Field(
        default=2.0, gt=1, le=100, description="latency over its baseline by this factor rolls back"
    )
    rollback_revenue_factor: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="revenue or forwards on the changed channels below this share of expected",
    )
    rollback_min_forwards: int = Field(
        default=10, ge=0, le=1_000_000, description="expected forwards needed before flow is judged"
    )
    # Progressive activation: shadow -> canary(1) -> canary(5) -> live.
    rollout_shadow_days: float = Field(default=14.0, ge=0, le=365, description="minimum days in shadow")
    rollout_canary_days: float = Field(
        default=3.0, ge=0, le=365, description="minimum days in each canary stage"
    )
    rollout_min_cycles: int = Field(
        default=3, ge=1, le=10_000, description="shadow cycles needed in the window"
    )
    rollout_min_forwards: int = Field(
        default=10,
        ge=0,
        le=1_000_000,
        description="expected forwards on the canary channels before judging flow",
    )
    rollout_tolerance: float = Field(
        default=0.1, ge=0, lt=1, description="how far canary revenue may fall below baseline and still pass"
    )
    log_format: Literal["json", "text"] | None = Field(
        default=None, description="service log: one JSON object per line, or text; unset: text on a terminal"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="lowest level logged"
    )
    dashboard_session_hours: float = Field(
        default=8.0,
        gt=0,
        le=168,
        description="how long a dashboard login lasts before the key is asked again",
    )
    # Storage (app/storage/): unset URL means an embedded nx-27017 under data_dir. The URL may hold a password.
    mongodb_url: SecretStr | None = Field(
        default=None, description="mongodb:// URL of an external MongoDB; never logged"
    )
    mongodb_database: str = Field(default="mcp", min_length=1, description="database name")
    mongodb_timeout_ms: int = Field(
        default=3000,
        ge=100,
        le=60_000,
        description="server selection and connect timeout, so outages show fast",
    )
    # Cache (app/cache/): unset means the in-process TTL cache only. The URL may hold a password: never log it.
    redis_url: SecretStr | None = Field(default=None, description="redis:// URL of the shared cache")
    cache_probe_interval_s: float = Field(
        default=5.0, gt=0, description="how often the cache pings Redis to notice an outage or its end"
    )

    # Alerts (app/alerts/): each tenant's Telegram chat is set through the API and sealed in the vault.
    telegram_api_url: str = Field(
        default="https://api.telegram.org", description="Bot API base URL (a local stand-in in tests)"
    )
    alert_delivery_interval_s: float = Field(
        default=15.0, gt=0, le=3_600, description="how often the alert outbox is delivered"
    )
    alert_max_age_hours: float = Field(
        default=48.0, gt=0, le=720, description="an alert not delivered within this is dropped (and logged)"
    )
    alert_backoff_max_s: float = Field(
        default=1_800.0, ge=1, le=86_400, description="longest wait between two delivery attempts"
    )
    alert_rate_limit: int = Field(default=10, ge=1, le=1_000, description="messages per chat per window")
    alert_rate_window_s: float = Field(default=3_600.0, gt=0, le=86_400, description="the rate-limit window")
    alert_dedup_window_s: float = Field(
        default=3_600.0, ge=0, le=7 * 86_400, description="the same event again within this is folded in"
    )
    alert_group_wait_s: float = Field(
        default=30.0, ge=0, le=3_600, description="an alert waits this long for others of the same incident"
    )
    alert_digest_hour: int = Field(
        default=8, ge=0, le=23, description="local hour (the quiet hours' time zone, else UTC) of the digest"
    )
    storage_outage_alert_s: float = Field(
        default=300.0, gt=0, le=86_400, description="a read-only spell this long is alerted to every tenant"
    )
    node_unreachable_alert_s: float = Field(
        default=900.0, gt=0, le=86_400, description="a node failing every probe this long is alerted"
    )

    @property
    def backups_path(self) -> Path:
        """Where cold backups are written."""
        return self.backup_dir or self.data_dir / "backups"


def settings_problems(error: ValidationError) -> str:
    """One line per bad variable: its name, its value (never a secret's) and what is allowed."""
    lines = []
    for problem in error.errors(include_url=False):
        name = str(problem["loc"][0]) if problem["loc"] else "?"
        field = Settings.model_fields.get(name)
        secret = field is not None and "SecretStr" in str(field.annotation)
        value = "(hidden)" if secret else repr(problem.get("input"))
        lines.append(f"MCP_{name.upper()}={value}: {problem['msg']}")
    return "; ".join(lines)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read from the environment once per process; a bad value is one clear ConfigError."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(f"invalid setting: {settings_problems(exc)}") from None
