"""Audit a checkout for secrets, tracked .env files, permissions, CORS, default credentials, vulnerable deps.

It looks for what must never ship: hard-coded secrets, tracked .env and key files, loose permissions,
permissive CORS, default credentials, and known-vulnerable dependencies.

Usage: .venv/bin/python scripts/security_audit.py [--root DIR] [--json]
Findings are CRITICAL (exit code 1) or WARNING; a secret found is named by kind, place and length, never shown.
Secrets in tests/ are fixtures (warnings). Known vulnerabilities are checked with pip-audit when it is
installed and its advisory source answers; otherwise the report says plainly that they were not checked.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import stat
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

CRITICAL, WARNING = "CRITICAL", "WARNING"
SKIPPED_DIRS = {".git", ".venv", ".venv-lnbits", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache"}
# Placeholders that document a shape rather than hold a secret.
PLACEHOLDER = re.compile(
    r"^(\*+|<[^>]*>|\$\{?\w+\}?|x+|\.\.\.|password|passwd|pass|pw|secret|redacted|\[redacted\])$", re.I
)
SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a private key", re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----")),
    ("an LND macaroon (hex)", re.compile(r"\b0201036c6e64[0-9a-f]{60,}\b")),
    ("an LND macaroon (base64)", re.compile(r"\bAgEDbG5k[A-Za-z0-9+/_-]{60,}={0,2}")),
    ("a Telegram bot token", re.compile(r"\b[0-9]{8,10}:AA[A-Za-z0-9_-]{33}\b")),
    ("an AWS access key", re.compile(r"\bAKIA[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b")),
)
ASSIGNED_SECRET = re.compile(
    r"(?i)\b(api_?key|secret(?:_key)?|token|password|passwd|master_key)\b\s*[:=]\s*[\"']([^\"'\s]{16,})[\"']"
)
URL_CREDENTIALS = re.compile(r"\b[a-z][a-z0-9+.-]*://([^/\s:@\"'{}]+):([^/\s@\"'{}]+)@")
WEAK_PASSWORDS = {
    "admin",
    "password",
    "changeme",
    "change_me",
    "root",
    "secret",
    "123456",
    "default",
    "guest",
    "test",
}
DEFAULT_CREDENTIAL = re.compile(r"(?i)(\w*(?:password|passwd|pwd))\s*[:=]\s*[\"']?([A-Za-z0-9_]+)[\"']?")
CONFIG_SUFFIXES = {
    ".example",
    ".conf",
    ".template",
    ".yaml",
    ".yml",
    ".toml",
    ".nomad",
    ".hcl",
    ".service",
    ".sh",
    ".md",
    ".env",
}
TRACKED_FORBIDDEN = re.compile(
    r"(^|/)(\.env(\.[^/]*)?|[^/]*\.(key|pem|p12|pfx|macaroon|kdbx)|id_(rsa|ecdsa|ed25519)[^/]*)$"
)
TRACKED_ALLOWED = re.compile(r"\.(example|sample|template)$")
SELF = "scripts/security_audit.py"  # names the patterns it looks for
SECRET_FILE_NAMES = re.compile(r"\.(key|macaroon|pem)$|(^|/)(master\.key|admin\.key|[^/]*\.env)$")


@dataclass(frozen=True)
class Finding:
    """One problem: how bad, which check, where, and what."""

    severity: str
    check: str
    where: str
    message: str


@dataclass
class Audit:
    """Findings and the checks that found nothing."""

    root: Path
    findings: list[Finding] = field(default_factory=list)
    clean: list[str] = field(default_factory=list)
    vulnerabilities_checked: bool = False

    def add(self, severity: str, check: str, where: str, message: str) -> None:
        """Record a finding."""
        self.findings.append(Finding(severity, check, where, message))

    @property
    def critical(self) -> int:
        """How many critical findings."""
        return sum(finding.severity == CRITICAL for finding in self.findings)


def tracked_files(root: Path) -> list[str]:
    """Files git tracks (else every file below root, outside virtualenvs and caches)."""
    git = shutil.which("git")
    if git and (root / ".git").exists():
        listed = subprocess.run([git, "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
        return [name for name in listed.decode().split("\0") if name]
    return [str(path.relative_to(root)) for path in walk(root)]


def walk(root: Path) -> Iterator[Path]:
    """Every file below root, skipping virtualenvs, caches and .git."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [name for name in dirs if name not in SKIPPED_DIRS]
        for name in files:
            yield Path(folder) / name


def entropy(text: str) -> float:
    """Shannon entropy in bits per character (random keys score high, words low)."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def scan_secrets(audit: Audit, files: list[str]) -> None:
    """Hard-coded secrets in tracked text files; in tests/ they are fixtures (warnings)."""
    found = 0
    for name in files:
        path = audit.root / name
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # binary or unreadable: not source
        severity = WARNING if name.startswith("tests/") else CRITICAL
        suffix = " (test fixture)" if severity == WARNING else ""
        for number, line in enumerate(text.splitlines(), start=1):
            for kind, pattern in SECRET_PATTERNS:
                for match in pattern.finditer(line):
                    audit.add(
                        severity,
                        "secrets",
                        f"{name}:{number}",
                        f"{kind}, {len(match.group(0))} chars{suffix}",
                    )
                    found += 1
            for match in ASSIGNED_SECRET.finditer(line):
                value = match.group(2)
                if not PLACEHOLDER.match(value) and entropy(value) >= 3.5 and re.search(r"\d", value):
                    message = f"a literal {match.group(1)} of {len(value)} chars{suffix}"
                    audit.add(severity, "secrets", f"{name}:{number}", message)
                    found += 1
            for match in URL_CREDENTIALS.finditer(line):
                password = match.group(2)
                if not PLACEHOLDER.match(password) and "{" not in password:
                    audit.add(severity, "secrets", f"{name}:{number}", f"a password inside a URL{suffix}")
                    found += 1
    if not found:
        audit.clean.append(f"secrets: no hard-coded secret in {len(files)} tracked files")


def check_tracked_files(audit: Audit, files: list[str]) -> None:
    """.env files, keys, certificates' private halves and macaroons must never be tracked."""
    bad = [name for name in files if TRACKED_FORBIDDEN.search(name) and not TRACKED_ALLOWED.search(name)]
    for name in bad:
        audit.add(
            CRITICAL, "git", name, "tracked by git: secrets and .env files belong outside the repository"
        )
    if not bad:
        audit.clean.append("git: no .env, key or macaroon file is tracked")


def check_permissions(audit: Audit) -> None:
    """Secret files owner-only, the data folder 0700, nothing world-writable."""
    problems = 0
    for path in walk(audit.root):
        try:
            mode = stat.S_IMODE(path.lstat().st_mode)
        except OSError:
            continue
        if path.is_symlink():
            continue
        where = str(path.relative_to(audit.root))
        if mode & stat.S_IWOTH:
            audit.add(CRITICAL, "permissions", where, f"world-writable ({mode:04o})")
            problems += 1
        elif SECRET_FILE_NAMES.search(where) and not TRACKED_ALLOWED.search(where) and mode & 0o077:
            audit.add(
                CRITICAL, "permissions", where, f"a secret file with mode {mode:04o}: chmod 600 {where}"
            )
            problems += 1
    data = audit.root / "data"
    if data.is_dir() and stat.S_IMODE(data.stat().st_mode) & 0o077:
        mode = stat.S_IMODE(data.stat().st_mode)
        audit.add(
            WARNING,
            "permissions",
            "data",
            f"the data folder is {mode:04o}; `make run` and production use 0700",
        )
        problems += 1
    if not problems:
        audit.clean.append("permissions: secret files owner-only, nothing world-writable")


def check_cors(audit: Audit, files: list[str]) -> None:
    """CORS: a wildcard origin with credentials is critical, a wildcard alone a warning."""
    seen: list[str] = []
    for name in files:
        if not name.endswith((".py", ".conf", ".template")) or name.startswith("tests/") or name == SELF:
            continue
        try:
            text = (audit.root / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "CORSMiddleware" in text or "Access-Control-Allow-Origin" in text:
            seen.append(name)
            wildcard = re.search(
                r"allow_origins\s*=\s*\[\s*[\"']\*[\"']|Access-Control-Allow-Origin\"?\s+\"?\*", text
            )
            credentials = re.search(
                r"allow_credentials\s*=\s*True|Access-Control-Allow-Credentials\"?\s+\"?true", text
            )
            if wildcard and credentials:
                audit.add(CRITICAL, "cors", name, "any origin allowed with credentials")
            elif wildcard:
                audit.add(WARNING, "cors", name, "any origin allowed")
    if not seen:
        audit.clean.append("cors: no cross-origin access is granted (browsers stay same-origin)")
    elif not any(finding.check == "cors" for finding in audit.findings):
        audit.clean.append(f"cors: explicit origins only ({', '.join(seen)})")


def check_default_credentials(audit: Audit, files: list[str]) -> None:
    """Well-known passwords and preset admin keys in configuration, examples, scripts and docs."""
    found = 0
    for name in files:
        if name.startswith("tests/") or not (Path(name).suffix in CONFIG_SUFFIXES or "Dockerfile" in name):
            continue
        try:
            lines = (audit.root / name).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for number, line in enumerate(lines, start=1):
            weak = [
                m.group(2) for m in DEFAULT_CREDENTIAL.finditer(line) if m.group(2).lower() in WEAK_PASSWORDS
            ]
            weak += [
                m.group(2) for m in URL_CREDENTIALS.finditer(line) if m.group(2).lower() in WEAK_PASSWORDS
            ]
            preset = re.match(r"^\s*(export\s+)?MCP_(ADMIN_API_KEY|MASTER_KEY|MASTER_PASSPHRASE)=\S", line)
            if weak:
                audit.add(
                    CRITICAL, "default-credentials", f"{name}:{number}", "a well-known default password"
                )
                found += 1
            if preset:
                audit.add(
                    CRITICAL,
                    "default-credentials",
                    f"{name}:{number}",
                    f"MCP_{preset.group(2)} preset in a file",
                )
                found += 1
    if not found:
        audit.clean.append("default-credentials: no default password or preset key in configuration")


def check_vulnerabilities(audit: Audit) -> None:
    """Known-vulnerable pinned dependencies, with pip-audit; says so plainly when it cannot check."""
    requirements = audit.root / "requirements-production.txt"
    tool = shutil.which("pip-audit") or shutil.which("pip-audit", path=str(Path(sys.executable).parent))
    if tool is None:
        audit.clean.append("vulnerabilities: NOT CHECKED, pip-audit is not installed (pip install pip-audit)")
        return
    command = [
        tool,
        "-r",
        str(requirements),
        "--require-hashes",
        "--disable-pip",
        "--format",
        "json",
        "--progress-spinner",
        "off",
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=180)
        report = json.loads(result.stdout)
    except (subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        audit.clean.append(
            f"vulnerabilities: NOT CHECKED, the advisory source did not answer ({type(exc).__name__})"
        )
        return
    audit.vulnerabilities_checked = True
    vulnerable = [dep for dep in report.get("dependencies", []) if dep.get("vulns")]
    for dep in vulnerable:
        ids = ", ".join(vuln["id"] for vuln in dep["vulns"])
        audit.add(
            CRITICAL, "vulnerabilities", f"{dep['name']}=={dep['version']}", f"known vulnerabilities: {ids}"
        )
    if not vulnerable:
        audit.clean.append(
            f"vulnerabilities: none known in {len(report.get('dependencies', []))} pinned packages"
        )


def run(root: Path) -> Audit:
    """Every check on the checkout at `root`."""
    audit = Audit(root)
    files = tracked_files(root)
    scan_secrets(audit, files)
    check_tracked_files(audit, files)
    check_permissions(audit)
    check_cors(audit, files)
    check_default_credentials(audit, files)
    check_vulnerabilities(audit)
    return audit


def main(argv: list[str] | None = None) -> int:
    """Print the audit; exit 1 on a critical finding."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--json", action="store_true", help="one JSON document instead of the text report")
    args = parser.parse_args(argv)
    audit = run(args.root.resolve())
    if args.json:
        print(json.dumps({"findings": [asdict(f) for f in audit.findings], "clean": audit.clean}, indent=2))
    else:
        print(f"security audit of {audit.root}")
        for line in audit.clean:
            print(f"  ok        {line}")
        for finding in sorted(audit.findings, key=lambda f: (f.severity != CRITICAL, f.check, f.where)):
            print(f"  {finding.severity:<9} {finding.check:<20} {finding.where}: {finding.message}")
        warnings = len(audit.findings) - audit.critical
        print(f"{audit.critical} critical, {warnings} warning(s)")
    return 1 if audit.critical else 0


if __name__ == "__main__":
    sys.exit(main())
