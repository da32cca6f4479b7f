"""The vault key is never silently replaced; writes are locked and atomic; rotation is crash-safe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from avflow.errors import SecretError
from avflow.vault import Vault


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AVFLOW_VAULT_KEY", raising=False)


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    v = Vault(tmp_path / "home")
    v.set("acme", "mail", "acme-password")
    v.set("beta", "token", "beta-token")
    return v


def listing(home: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file()}


def one_line(exc: pytest.ExceptionInfo[SecretError]) -> str:
    text = str(exc.value)
    assert "\n" not in text and "binascii" not in text and "Error" not in text, text
    return text


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda p: p.unlink(), "is missing while client vaults exist"),
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_bytes(b"  \n"), "is empty"),
        (lambda p: p.write_bytes(b"not base64 at all!!\n"), "is not a vault key"),
        (lambda p: p.write_bytes(b"c2hvcnQ=\n"), "is not a vault key"),  # 5 bytes
        (lambda p: (p.unlink(), p.mkdir()), "cannot read the vault key"),
    ],
)
def test_a_bad_key_is_one_line_and_never_a_new_key(vault: Vault, damage, says: str) -> None:  # type: ignore[no-untyped-def]
    damage(vault.key_path)
    before = listing(vault.home)
    for attempt in (
        lambda: vault.set("acme", "other", "x"),
        lambda: vault.get("acme", "mail"),
        lambda: vault.set("gamma", "first", "x"),  # a new client: still no new key
        vault.rotate,
    ):
        with pytest.raises(SecretError) as exc:
            attempt()
        assert says in one_line(exc)
    assert listing(vault.home) == before


def test_a_garbage_key_in_the_environment_is_one_line(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVFLOW_VAULT_KEY", "@@@garbage")
    with pytest.raises(SecretError) as exc:
        vault.get("acme", "mail")
    assert "AVFLOW_VAULT_KEY is not a vault key" in one_line(exc)


def test_another_key_in_the_environment_is_named_as_such(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key that does not open the vault came from AVFLOW_VAULT_KEY: say so, not the file
    (which is the right key and needs no restoring)."""
    import base64

    monkeypatch.setenv("AVFLOW_VAULT_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode())
    before = listing(vault.home)
    with pytest.raises(SecretError) as exc:
        vault.set("acme", "other", "x")
    text = one_line(exc)
    assert "under another key than this one (AVFLOW_VAULT_KEY)" in text, text
    assert listing(vault.home) == before


def test_the_cli_says_one_line_exit_2_for_a_deleted_key(tmp_path: Path) -> None:
    env = {**os.environ, "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"}
    (tmp_path / "workflows" / "acme").mkdir(parents=True)
    (tmp_path / "workflows" / "acme" / "client.yaml").write_text("name: Acme\n")
    base = [sys.executable, "-m", "avflow", "--workflows", str(tmp_path / "workflows")]
    base += ["--home", str(tmp_path / "home"), "secrets", "set", "acme"]
    first = subprocess.run([*base, "a"], input="1", capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    (tmp_path / "home" / "keys" / "vault.key").unlink()
    second = subprocess.run([*base, "b"], input="2", capture_output=True, text=True, env=env)
    assert second.returncode == 2
    assert second.stderr.count("\n") == 1 and "is missing while client vaults" in second.stderr
    assert not (tmp_path / "home" / "keys" / "vault.key").exists()


def test_ten_concurrent_secrets_set_keep_all_ten(tmp_path: Path) -> None:
    env = {**os.environ, "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"}
    (tmp_path / "workflows" / "acme").mkdir(parents=True)
    (tmp_path / "workflows" / "acme" / "client.yaml").write_text("name: Acme\n")
    base = [sys.executable, "-m", "avflow", "--workflows", str(tmp_path / "workflows")]
    base += ["--home", str(tmp_path / "home"), "secrets", "set", "acme"]
    procs = [
        subprocess.Popen(
            [*base, f"s{i}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for i in range(10)
    ]
    for i, p in enumerate(procs):
        _out, err = p.communicate(f"value-{i}".encode(), timeout=120)
        assert p.returncode == 0, err
    v = Vault(tmp_path / "home")
    assert v.names("acme") == sorted(f"s{i}" for i in range(10))
    assert [v.get("acme", f"s{i}") for i in range(10)] == [f"value-{i}" for i in range(10)]


def test_rotate_reencrypts_every_vault(vault: Vault) -> None:
    old_key = vault.key_path.read_bytes()
    assert vault.rotate() == 2
    assert vault.key_path.read_bytes() != old_key
    assert not vault.pending_path.exists()
    assert vault.get("acme", "mail") == "acme-password"
    assert vault.get("beta", "token") == "beta-token"
    vault.key_path.write_bytes(old_key)  # the old key opens nothing any more
    with pytest.raises(SecretError, match="cannot be decrypted"):
        vault.get("acme", "mail")


@pytest.mark.parametrize("stop_after", [0, 1, 2])
def test_an_interrupted_rotation_loses_nothing_and_finishes_when_run_again(
    vault: Vault, monkeypatch: pytest.MonkeyPatch, stop_after: int
) -> None:
    real = Vault._reencrypt
    calls = []

    def interrupted(self: Vault, *args: object) -> int:
        if len(calls) == stop_after:
            raise KeyboardInterrupt  # a kill at this point
        calls.append(args)
        return real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Vault, "_reencrypt", interrupted)
    replace = os.replace

    def killed_before_the_new_key_is_in_place(src: object, dst: object) -> None:
        if src == vault.pending_path:
            raise KeyboardInterrupt
        replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", killed_before_the_new_key_is_in_place)
    with pytest.raises(KeyboardInterrupt):
        vault.rotate()
    assert vault.pending_path.exists()
    fresh = Vault(vault.home)  # another process, meanwhile: every secret still opens
    assert fresh.get("acme", "mail") == "acme-password"
    assert fresh.get("beta", "token") == "beta-token"
    fresh.set("acme", "added", "during")  # and can still be written
    monkeypatch.setattr(Vault, "_reencrypt", real)
    monkeypatch.setattr(os, "replace", replace)
    assert fresh.rotate() == 2
    assert not vault.pending_path.exists()
    done = Vault(vault.home)
    assert done.get("acme", "mail") == "acme-password"
    assert done.get("acme", "added") == "during"
    assert done.get("beta", "token") == "beta-token"


def test_rotate_refuses_a_key_from_the_environment(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVFLOW_VAULT_KEY", vault.key_path.read_text().strip())
    with pytest.raises(SecretError, match="rotate it where it is kept"):
        vault.rotate()


def test_a_bad_client_id_never_names_a_vault_file(vault: Vault) -> None:
    for bad in ("../x", "./B", "B\n", ".hidden"):
        with pytest.raises(SecretError, match="is not a client id"):
            vault.set(bad, "pw", "x")
    assert sorted(p.name for p in vault.dir.iterdir()) == [".lock", "acme.json", "beta.json"]


def test_vault_rotate_command(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from avflow.cli import main

    (tmp_path / "workflows" / "acme").mkdir(parents=True)
    (tmp_path / "workflows" / "acme" / "client.yaml").write_text("name: Acme\n")
    v = Vault(tmp_path / "home")
    v.set("acme", "mail", "pw")
    old = v.key_path.read_bytes()
    argv = ["--workflows", str(tmp_path / "workflows"), "--home", str(tmp_path / "home")]
    with CliRunner().isolation() as (out, _err, *_):
        try:
            main([*argv, "vault", "rotate"])
        except SystemExit as exc:
            assert exc.code in (0, None)
        assert "1 client vault(s) re-encrypted" in out.getvalue().decode()
    assert v.key_path.read_bytes() != old and Vault(v.home).get("acme", "mail") == "pw"
