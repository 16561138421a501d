"""Service settings from the environment (prefix MCP_), frozen after start-up."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The public snapshot lives beside the project (it comes from another project's repository and is never copied in).
DEFAULT_GRAPH_FILE = PROJECT_ROOT.parent / "shared" / "data" / "graph" / "describegraph-2026-02-03.json.gz"
DEFAULT_THRESHOLDS_FILE = PROJECT_ROOT / "config" / "decision_thresholds.yaml"


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
    worker_threads: int = Field(default=2, ge=1, le=64, description="threads for graph algorithms")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read from the environment once per process."""
    return Settings()
