"""The vault's master key: from MCP_MASTER_KEY, a 0600 key file, or a passphrase (scrypt) with a per-installation salt.

Passphrase derivation uses scrypt with n=2**17, r=8, p=1 (128 MiB, about 0.3 s here), OWASP's current minimum for
scrypt; it is memory-hard, so GPU guessing costs far more than against PBKDF2 at an equal delay. The derivation runs
once per process start. The parameters are written into the salt file beside the salt, so raising the default later
never silently changes the key of an existing installation.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from pydantic import SecretStr

from app.errors import ConfigError
from app.security.private_files import read_private_file, write_private_file

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger(__name__)

KEY_BYTES = 32
SALT_BYTES = 16
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
MIN_SCRYPT_N, MAX_SCRYPT_N = 2**15, 2**20
MIN_PASSPHRASE_CHARS = 12
SALT_FILE_NAME = "master-key.salt"
KEY_ID_LABEL = b"mcp-key-id"
GENERATE_HINT = "python -m app vault genkey --out PATH"


class MasterKey:
    """A 32-byte AES-256-GCM key; its id is stable and reveals nothing, and its repr never shows the bytes."""

    __slots__ = ("_aead", "_key_id", "_material")

    def __init__(self, material: bytes) -> None:
        if len(material) != KEY_BYTES:
            raise ConfigError(f"a master key must be exactly {KEY_BYTES} bytes, got {len(material)}")
        self._material = bytes(material)
        self._aead = AESGCM(self._material)
        self._key_id = hmac.new(self._material, KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]

    @classmethod
    def generate(cls) -> MasterKey:
        """A fresh random key from the operating system's CSPRNG."""
        return cls(os.urandom(KEY_BYTES))

    @property
    def key_id(self) -> str:
        """First 16 hex characters of HMAC-SHA256(key, "mcp-key-id")."""
        return self._key_id

    def encrypt(self, nonce: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
        """AES-256-GCM seal; the caller supplies a fresh 96-bit nonce."""
        return self._aead.encrypt(nonce, plaintext, associated_data)

    def decrypt(self, nonce: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
        """AES-256-GCM open; raises cryptography's InvalidTag when anything was altered."""
        return self._aead.decrypt(nonce, ciphertext, associated_data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MasterKey) and hmac.compare_digest(self._material, other._material)

    def __hash__(self) -> int:
        return hash(self._key_id)

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self._key_id!r})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the raw key wherever the pickle goes (caches, task queues): refuse.
        raise TypeError("MasterKey cannot be pickled")


def load_master_key(settings: Settings) -> MasterKey:
    """The configured key: MCP_MASTER_KEY, else MCP_MASTER_KEY_FILE, else MCP_MASTER_PASSPHRASE; ConfigError if none."""
    inline = _secret_text(settings.master_key)
    passphrase = _secret_text(settings.master_passphrase)
    configured = [
        name
        for name, present in (
            ("MCP_MASTER_KEY", inline is not None),
            ("MCP_MASTER_KEY_FILE", settings.master_key_file is not None),
            ("MCP_MASTER_PASSPHRASE", passphrase is not None),
        )
        if present
    ]
    if len(configured) > 1:
        log.warning("%s takes precedence; ignoring %s", configured[0], ", ".join(configured[1:]))
    if inline is not None:
        return _decode_key_text(inline, source="MCP_MASTER_KEY")
    if settings.master_key_file is not None:
        return read_key_file(settings.master_key_file)
    if passphrase is not None:
        salt_file = settings.master_salt_file or settings.data_dir / SALT_FILE_NAME
        return derive_key_from_passphrase(passphrase, salt_file)
    raise ConfigError(
        "no vault master key configured; set one of: "
        f"MCP_MASTER_KEY (base64 of 32 random bytes, e.g. `openssl rand -base64 32`), "
        f"MCP_MASTER_KEY_FILE (a file with mode 0600, created by `{GENERATE_HINT}`), "
        f"or MCP_MASTER_PASSPHRASE (at least {MIN_PASSPHRASE_CHARS} characters; the key is derived with scrypt)"
    )


def read_key_file(path: Path) -> MasterKey:
    """A key from a regular file with mode 0600 or stricter holding base64 of 32 bytes or the 32 raw bytes."""
    path = path.expanduser()
    raw = read_private_file(path, what="master key file")
    if len(raw) == KEY_BYTES:
        return MasterKey(raw)
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise ConfigError(
            f"master key file {path} must hold base64 of {KEY_BYTES} bytes or exactly {KEY_BYTES} raw bytes"
        ) from None
    return _decode_key_text(text, source=f"master key file {path}")


def generate_key_file(path: Path) -> MasterKey:
    """Write a fresh random key as base64 to a new file created with mode 0600; never overwrites."""
    key = MasterKey.generate()
    try:
        write_private_file(path.expanduser(), base64.b64encode(key._material) + b"\n")
    except ConfigError:
        raise ConfigError(f"{path} already exists; refusing to overwrite a key file") from None
    except OSError as exc:
        raise ConfigError(f"cannot create key file {path}: {exc.strerror}") from None
    return key


def derive_key_from_passphrase(passphrase: str, salt_file: Path) -> MasterKey:
    """Scrypt over the passphrase with this installation's salt (created 0600 on first use)."""
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise ConfigError(f"MCP_MASTER_PASSPHRASE must be at least {MIN_PASSPHRASE_CHARS} characters")
    salt, n, r, p = load_or_create_salt(salt_file.expanduser())
    kdf = Scrypt(salt=salt, length=KEY_BYTES, n=n, r=r, p=p)
    return MasterKey(kdf.derive(passphrase.encode("utf-8")))


def load_or_create_salt(salt_file: Path) -> tuple[bytes, int, int, int]:
    """(salt, n, r, p) from the salt file, creating it with a random salt and the default parameters if absent."""
    if not salt_file.exists():
        _create_salt_file(salt_file)
    raw = read_private_file(salt_file, what="master key salt file")
    try:
        document = json.loads(raw)
        salt = base64.b64decode(document["salt"], validate=True)
        n, r, p = int(document["n"]), int(document["r"]), int(document["p"])
        if document["kdf"] != "scrypt" or len(salt) != SALT_BYTES:
            raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ConfigError(f"master key salt file {salt_file} is malformed; restore it from backup") from None
    # An edited file must neither weaken the derivation nor make start-up allocate gigabytes.
    if not (MIN_SCRYPT_N <= n <= MAX_SCRYPT_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
        raise ConfigError(
            f"master key salt file {salt_file} has out-of-range scrypt parameters n={n} r={r} p={p}"
        )
    return salt, n, r, p


def _create_salt_file(salt_file: Path) -> None:
    document = {
        "kdf": "scrypt",
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "salt": base64.b64encode(os.urandom(SALT_BYTES)).decode("ascii"),
        "note": "per-installation salt of the vault master key; losing it makes every stored secret unreadable",
    }
    salt_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = salt_file.with_name(f".{salt_file.name}.{os.urandom(6).hex()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(json.dumps(document, indent=2).encode("ascii") + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        # link() publishes the complete file atomically and fails if another process won the race,
        # in which case its salt is the one to use.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, salt_file)
    finally:
        temporary.unlink(missing_ok=True)


def _decode_key_text(text: str, source: str) -> MasterKey:
    cleaned = text.strip()
    try:
        material = base64.b64decode(cleaned.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{source} is not valid base64; create a key with `{GENERATE_HINT}`") from None
    if len(material) != KEY_BYTES:
        raise ConfigError(
            f"{source} must be the base64 of exactly {KEY_BYTES} bytes (it decodes to {len(material)}); "
            f"create a key with `{GENERATE_HINT}`"
        )
    return MasterKey(material)


def _secret_text(value: SecretStr | None) -> str | None:
    """The secret's text, or None when unset or blank (an empty env var means unset)."""
    if value is None:
        return None
    text = value.get_secret_value()
    return text if text.strip() else None
