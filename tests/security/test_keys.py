"""Master key loading: env key, 0600 key file, scrypt passphrase with a per-installation salt, key files."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import pickle
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import SecretStr

from app.cli import main
from app.errors import ConfigError
from app.security.keys import (
    SALT_FILE_NAME,
    SCRYPT_N,
    MasterKey,
    derive_key_from_passphrase,
    generate_key_file,
    load_master_key,
    load_or_create_salt,
    read_key_file,
)
from tests.security import leaked, log_text, vault_settings

RAW = bytes(range(32))
RAW_B64 = base64.b64encode(RAW).decode()
PASSPHRASE = "correct horse battery staple"


def write_key(path, content: bytes, mode: int = 0o600):
    path.write_bytes(content)
    path.chmod(mode)
    return path


def test_key_id_is_a_stable_hmac_prefix_and_reveals_nothing():
    key = MasterKey(RAW)
    expected = hmac.new(RAW, b"mcp-key-id", hashlib.sha256).hexdigest()[:16]
    assert key.key_id == expected == MasterKey(RAW).key_id
    assert MasterKey.generate().key_id != key.key_id
    assert key == MasterKey(RAW) and key != MasterKey.generate()
    for text in (repr(key), str(key), f"{key}"):
        assert key.key_id in text
        assert not leaked(text, RAW)


def test_master_key_must_be_32_bytes_and_cannot_be_pickled():
    with pytest.raises(ConfigError, match="exactly 32 bytes"):
        MasterKey(b"short")
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(MasterKey(RAW))


def test_env_key_is_base64_of_32_bytes():
    key = load_master_key(vault_settings(master_key=SecretStr(RAW_B64)))
    assert key == MasterKey(RAW)
    url_safe = base64.urlsafe_b64encode(RAW).decode()
    assert load_master_key(vault_settings(master_key=SecretStr(f"  {url_safe}\n"))) == key


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (base64.b64encode(b"x" * 16).decode(), "decodes to 16"),
        ("this is not base64!", "not valid base64"),
    ],
)
def test_bad_env_key_gives_a_clear_error_without_the_value(value, fragment):
    with pytest.raises(ConfigError) as caught:
        load_master_key(vault_settings(master_key=SecretStr(value)))
    assert fragment in caught.value.message
    assert "MCP_MASTER_KEY" in caught.value.message
    assert value not in str(caught.value)


def test_nothing_configured_names_the_three_options():
    with pytest.raises(ConfigError) as caught:
        load_master_key(vault_settings(master_key=SecretStr("  ")))
    message = caught.value.message
    assert (
        "MCP_MASTER_KEY" in message
        and "MCP_MASTER_KEY_FILE" in message
        and "MCP_MASTER_PASSPHRASE" in message
    )


def test_settings_never_print_secrets():
    settings = vault_settings(master_key=SecretStr(RAW_B64), master_passphrase=SecretStr(PASSPHRASE))
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert RAW_B64 not in text and PASSPHRASE not in text


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_key_file_with_owner_only_mode_is_accepted(tmp_path, mode):
    path = write_key(tmp_path / "master.key", RAW_B64.encode() + b"\n", mode)
    assert read_key_file(path) == MasterKey(RAW)
    assert load_master_key(vault_settings(master_key_file=path)) == MasterKey(RAW)


def test_key_file_may_hold_the_32_raw_bytes(tmp_path):
    assert read_key_file(write_key(tmp_path / "raw.key", RAW)) == MasterKey(RAW)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o700])
def test_key_file_with_loose_mode_is_refused_with_the_chmod_command(tmp_path, mode):
    path = write_key(tmp_path / "master.key", RAW_B64.encode(), mode)
    with pytest.raises(ConfigError) as caught:
        load_master_key(vault_settings(master_key_file=path))
    assert f"mode {mode:04o}" in caught.value.message
    assert f"chmod 600 {path}" in caught.value.message
    assert not leaked(str(caught.value), RAW)


def test_key_file_must_exist_and_be_a_regular_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_key_file(tmp_path / "absent.key")
    directory = tmp_path / "dir"
    directory.mkdir(mode=0o700)
    with pytest.raises(ConfigError, match="not a regular file"):
        read_key_file(directory)


@pytest.mark.parametrize("content", [b"\xff" * 40, b"c2hvcnQ=\n", b"not base64 at all"])
def test_key_file_with_bad_content_is_refused_without_echoing_it(tmp_path, content):
    path = write_key(tmp_path / "bad.key", content)
    with pytest.raises(ConfigError) as caught:
        read_key_file(path)
    assert content.decode("latin-1").strip() not in caught.value.message


def test_env_key_takes_precedence_and_the_others_are_named_in_a_warning(tmp_path, caplog):
    other = generate_key_file(tmp_path / "other.key")
    caplog.set_level(logging.DEBUG)
    key = load_master_key(
        vault_settings(
            master_key=SecretStr(RAW_B64),
            master_key_file=tmp_path / "other.key",
            master_passphrase=SecretStr(PASSPHRASE),
        )
    )
    assert key == MasterKey(RAW) and key != other
    assert "ignoring MCP_MASTER_KEY_FILE, MCP_MASTER_PASSPHRASE" in caplog.text
    assert not leaked(log_text(caplog.records), RAW, PASSPHRASE.encode())


def test_generate_key_file_writes_0600_and_never_overwrites(tmp_path):
    path = tmp_path / "keys" / "master.key"
    key = generate_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_file(path) == key
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        generate_key_file(path)
    assert path.read_bytes() == before


def test_passphrase_derivation_is_deterministic_per_salt(tmp_path):
    salt_file = tmp_path / "state" / "master.salt"
    first = load_master_key(
        vault_settings(master_passphrase=SecretStr(PASSPHRASE), master_salt_file=salt_file)
    )
    again = derive_key_from_passphrase(PASSPHRASE, salt_file)
    other_installation = derive_key_from_passphrase(PASSPHRASE, tmp_path / "other.salt")
    other_passphrase = derive_key_from_passphrase(PASSPHRASE + "!", salt_file)
    assert first == again
    assert other_installation != first and other_passphrase != first


def test_salt_file_is_created_0600_under_the_data_dir_with_its_parameters(tmp_path):
    settings = vault_settings(master_passphrase=SecretStr(PASSPHRASE), data_dir=tmp_path / "data")
    key = load_master_key(settings)
    salt_file = tmp_path / "data" / SALT_FILE_NAME
    assert stat.S_IMODE(salt_file.stat().st_mode) == 0o600
    document = json.loads(salt_file.read_text())
    assert document["kdf"] == "scrypt" and document["n"] == SCRYPT_N == 2**17
    assert document["r"] == 8 and document["p"] == 1
    assert len(base64.b64decode(document["salt"])) == 16
    assert PASSPHRASE not in salt_file.read_text()
    assert not [name for name in os.listdir(salt_file.parent) if name.endswith(".tmp")]
    assert load_master_key(settings) == key


def test_salt_file_with_loose_mode_or_bad_content_is_refused(tmp_path):
    salt_file = tmp_path / "master.salt"
    derive_key_from_passphrase(PASSPHRASE, salt_file)
    salt_file.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        derive_key_from_passphrase(PASSPHRASE, salt_file)
    salt_file.chmod(0o600)
    document = json.loads(salt_file.read_text())
    salt_file.write_text(json.dumps({**document, "n": 2**10}))
    with pytest.raises(ConfigError, match="out-of-range scrypt parameters n=1024"):
        derive_key_from_passphrase(PASSPHRASE, salt_file)
    salt_file.write_text('{"kdf": "scrypt"}')
    with pytest.raises(ConfigError, match="malformed"):
        derive_key_from_passphrase(PASSPHRASE, salt_file)


def test_short_passphrase_is_refused_without_echoing_it(tmp_path):
    with pytest.raises(ConfigError, match="at least 12 characters") as caught:
        derive_key_from_passphrase("hunter2", tmp_path / "salt")
    assert "hunter2" not in str(caught.value)
    assert not (tmp_path / "salt").exists()


def test_cli_genkey_prints_the_key_id_and_export_line_but_never_the_key(tmp_path, capsys):
    path = tmp_path / "master.key"
    assert main(["vault", "genkey", "--out", str(path)]) == 0
    out, err = capsys.readouterr()
    key = read_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"key id: {key.key_id}" in out
    assert f"export MCP_MASTER_KEY_FILE={path.resolve()}" in out
    material = base64.b64decode(path.read_bytes())
    assert not leaked(out + err, material)
    assert main(["vault", "genkey", "--out", str(path)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err


def test_concurrent_first_use_agrees_on_one_salt(tmp_path):
    salt_file = tmp_path / "data" / "master.salt"
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: load_or_create_salt(salt_file), range(16)))
    assert len(set(results)) == 1
    assert sorted(path.name for path in salt_file.parent.iterdir()) == ["master.salt"]
