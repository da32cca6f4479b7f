"""The vault, secret references, and secrets never written anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from clikit import child, folders

PLUGINS_DIR = Path(__file__).parent / "plugins_dir"
SECRET = "s3cr3t-Pa55w0rd-planted"


def avflow(
    tmp_path: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return child(
        *folders(tmp_path),
        *["--plugins-dir", str(PLUGINS_DIR), "--log-level", "debug", *args],
        env={"AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"},
        drop=["AVFLOW_VAULT_KEY"],
        stdin=stdin,
        timeout=60,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for client in ("acme", "beta"):
        d = tmp_path / "workflows" / client
        d.mkdir(parents=True)
        (d / "client.yaml").write_text(
            f"name: {client}\naccounts:\n  box: {{ type: dummy, user: me, password: '${{secret:pw}}' }}\n"
        )
    (tmp_path / "workflows" / "acme" / "leak.yaml").write_text(
        "steps:\n  - uses: crashy.leak\n    with: { account: box }\n"
    )
    (tmp_path / "workflows" / "acme" / "leakfail.yaml").write_text(
        "steps:\n  - uses: crashy.leak\n    with: { account: box, fail: true }\n"
    )
    return tmp_path


def test_secrets_set_list_rm(project: Path) -> None:
    assert avflow(project, "secrets", "set", "acme", "pw", stdin=SECRET + "\n").returncode == 0
    listed = avflow(project, "secrets", "list", "acme")
    assert listed.stdout.split() == ["pw"]
    vault_file = project / "home" / "vault" / "acme.json"
    assert SECRET not in vault_file.read_text()
    assert oct(vault_file.stat().st_mode & 0o777) == "0o600"
    assert avflow(project, "secrets", "rm", "acme", "pw").returncode == 0
    assert avflow(project, "secrets", "list", "acme").stdout == ""
    missing = avflow(project, "secrets", "rm", "acme", "pw")
    assert missing.returncode == 2 and "has no secret 'pw'" in missing.stderr


def test_a_value_that_is_not_utf8_is_one_line(project: Path) -> None:
    env = {**os.environ, "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"}
    argv = [sys.executable, "-m", "avflow", "--workflows", str(project / "workflows")]
    argv += ["--home", str(project / "home"), "secrets", "set", "acme", "bin"]
    for lang in ("C.UTF-8", "C"):  # stdin strict (UTF-8 locale) or with surrogates (POSIX)
        result = subprocess.run(
            argv,
            capture_output=True,
            input=b"\xff\xfe\xfd\xfc",
            env={**env, "LC_ALL": lang, "PYTHONUTF8": "0"},
            timeout=60,
        )
        err = result.stderr.decode()
        assert result.returncode == 2 and "not UTF-8" in err and "Traceback" not in err, err
    assert "bin" not in avflow(project, "secrets", "list", "acme").stdout


def test_missing_secret_is_a_validation_error(project: Path) -> None:
    avflow(project, "secrets", "set", "beta", "pw", stdin=SECRET)
    result = avflow(project, "validate")
    assert result.returncode == 2
    assert (
        "acme/client.yaml:3:" in result.stderr
        and "client 'acme' has no secret 'pw'" in result.stderr
    )
    assert "beta" not in result.stderr  # beta has it; acme cannot borrow it
    assert "Traceback" not in result.stderr


def test_another_clients_secret_cannot_be_referenced(project: Path) -> None:
    (project / "workflows" / "acme" / "client.yaml").write_text(
        "name: acme\naccounts:\n  box: { type: dummy, user: me, password: '${secret:beta/pw}' }\n"
    )
    result = avflow(project, "validate")
    assert result.returncode == 2
    assert "only its own client's secrets" in result.stderr


def test_one_clients_key_does_not_open_anothers_vault(project: Path) -> None:
    from avflow.errors import SecretError
    from avflow.vault import Vault

    vault = Vault(project / "home")
    vault.set("acme", "pw", SECRET)
    # Copy acme's vault file as beta's: the token must not decrypt under beta's key.
    (project / "home" / "vault" / "beta.json").write_text(
        (project / "home" / "vault" / "acme.json").read_text()
    )
    with pytest.raises(SecretError, match="cannot be decrypted"):
        vault.get("beta", "pw")
    assert vault.get("acme", "pw") == SECRET


def test_planted_secret_never_appears_anywhere(project: Path) -> None:
    assert avflow(project, "secrets", "set", "acme", "pw", stdin=SECRET).returncode == 0
    outputs = [
        avflow(project, "trigger", "acme/leak", "--json"),
        avflow(project, "trigger", "acme/leakfail"),
        avflow(project, "trigger", "acme/leak", "--dry-run"),
        avflow(project, "runs", "--json"),
        avflow(project, "resume"),
    ]
    assert outputs[0].returncode == 0, outputs[0].stderr
    assert outputs[1].returncode == 1
    assert "[REDACTED]" in outputs[0].stdout  # the leak happened and was masked
    for out in outputs:
        assert SECRET not in out.stdout and SECRET not in out.stderr
    written = [p for p in (project / "home").rglob("*") if p.is_file()]
    assert any(p.suffix == ".jsonl" for p in written)
    for path in written:
        data = path.read_bytes()
        assert SECRET.encode() not in data, f"secret written to {path}"


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("big", b"x" * (64 * 1024 + 1), "the secret value is over 64 KiB"),
        ("bin", b"%PDF-1.7\n\x00\x01 binary", "the secret value holds a NUL byte"),
        ("n" * 101, b"v", "secret name 'nnnn"),
    ],
)
def test_a_file_piped_by_mistake_or_a_huge_name_is_one_line(
    project: Path, name: str, value: bytes, why: str
) -> None:
    """``avflow secrets set acme key < scan.pdf``: a file, not a secret; nothing is stored (a
    50 MB value would be decrypted whole at every later use of the vault)."""
    env = {**os.environ, "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"}
    argv = [sys.executable, "-m", "avflow", "--workflows", str(project / "workflows")]
    argv += ["--home", str(project / "home"), "secrets", "set", "acme", name]
    before = {p: p.read_bytes() for p in (project / "home").rglob("*") if p.is_file()}
    result = subprocess.run(argv, capture_output=True, input=value, env=env, timeout=60)
    err = result.stderr.decode()
    assert result.returncode == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: {why}") and "nothing stored" in err, err
    after = {p: p.read_bytes() for p in (project / "home").rglob("*") if p.is_file()}
    assert after == before


def test_a_value_just_under_the_limit_with_newlines_is_kept(project: Path) -> None:
    pem = "-----BEGIN PRIVATE KEY-----\n" + "A" * (64 * 1024 - 60) + "\n-----END PRIVATE KEY-----"
    assert avflow(project, "secrets", "set", "acme", "pem", stdin=pem + "\n").returncode == 0
    assert "pem" in avflow(project, "secrets", "list", "acme").stdout
