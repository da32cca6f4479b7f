"""A canary secret, set in two clients and pushed by a test plugin through every output path
(effect keys and kinds, mapping keys, cursor keys and values, outputs, errors, notes, logs, dry
runs; plain, repr, JSON, URL-encoded, base64), appears in none of its forms in any file of the
home folder, in the logs, in the reports and exports, or in any command's output."""

from __future__ import annotations

import io
import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from clikit import child, folders

from avflow import redact

PLUGIN_DIR = Path(__file__).parent / "canary_plugin"
CANARY = 'Can4ry"x/y z\\é-7Q+%'
FORMS = sorted(redact.forms_of(CANARY), key=len)


def avflow(root: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return child(
        *folders(root),
        *["--plugins-dir", str(PLUGIN_DIR), "--log-level", "debug", *args],
        env={"AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"},
        drop=["AVFLOW_VAULT_KEY"],
        stdin=stdin,
    )


def found(data: bytes) -> list[str]:
    """The forms of the canary in ``data`` (zip members are opened and searched too)."""
    hits = [f for f in FORMS if f.encode() in data]
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for name in z.namelist():
                hits += [f"{name}: {hit}" for hit in found(z.read(name))]
    return hits


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for client in ("acme", "beta"):
        d = tmp_path / "workflows" / client
        d.mkdir(parents=True)
        (d / "client.yaml").write_text(
            f"name: {client}\naccounts:\n"
            "  box: { type: canary, user: me, password: '${secret:pw}' }\n"
        )
        (d / "leak.yaml").write_text("steps:\n  - uses: canary.leak\n    with: { account: box }\n")
        (d / "fail.yaml").write_text(
            "steps:\n  - uses: canary.leak\n    with: { account: box, fail: true }\n"
        )
    return tmp_path


def test_the_forms_looked_for_are_the_escaped_ones() -> None:
    import base64
    import json
    from urllib.parse import quote

    assert CANARY in FORMS and repr(CANARY)[1:-1] in FORMS and json.dumps(CANARY)[1:-1] in FORMS
    assert quote(CANARY, safe="") in FORMS
    basic = base64.b64encode(f"user:{CANARY}".encode()).decode()
    assert any(f in basic for f in FORMS if len(f) >= 8)  # found inside a longer encoding too


def test_canary_appears_nowhere(project: Path) -> None:
    out = project / "out"
    out.mkdir()
    month = datetime.now(UTC).strftime("%Y-%m")
    commands = [
        ("secrets", "set", "acme", "pw"),
        ("secrets", "set", "beta", "pw"),
        ("trigger", "acme/leak", "--json"),
        ("trigger", "beta/leak", "--json"),
        ("trigger", "acme/fail", "--json"),
        ("trigger", "beta/fail"),
        ("trigger", "acme/leak", "--dry-run", "--json"),
        ("trigger", "beta/leak", "--dry-run"),
        ("runs", "--json"),
        ("runs",),
        ("status",),
        ("secrets", "list", "acme"),
        ("audit", "show", "acme"),
        ("audit", "show", "beta"),
        ("audit", "verify", "acme"),
        ("audit", "export", "acme", "--format", "jsonl", "--output", str(out / "a.jsonl")),
        ("audit", "export", "beta", "--format", "csv", "--output", str(out / "b.csv")),
        ("audit", "export", "acme", "--format", "bundle", "--output", str(out / "a.zip")),
        ("audit", "report", "acme", "--month", month, "--output", str(out / "report-a")),
        ("audit", "report", "beta", "--month", month, "--output", str(out / "report-b")),
    ]
    results = {
        " ".join(c): avflow(project, *c, stdin=CANARY if c[0] == "secrets" else None)
        for c in commands
    }
    assert results["trigger acme/leak --json"].returncode == 0, results["trigger acme/leak --json"]
    assert results["trigger acme/fail --json"].returncode == 1
    assert "[REDACTED]" in results["trigger acme/leak --json"].stdout  # the leaks were tried
    assert "[REDACTED]" in results["trigger beta/fail"].stderr
    for command, r in results.items():
        assert "Traceback" not in r.stderr, (command, r.stderr[-2000:])
        assert not found(r.stdout.encode()), (command, found(r.stdout.encode()))
        assert not found(r.stderr.encode()), (command, found(r.stderr.encode()))
    files = [p for p in [*(project / "home").rglob("*"), *out.rglob("*")] if p.is_file()]
    assert any(p.name == "state.db" for p in files) and any(p.suffix == ".zip" for p in files)
    assert len([p for p in files if p.suffix == ".jsonl"]) >= 2
    leaks = {str(p): found(p.read_bytes()) for p in files}
    assert not any(leaks.values()), {k: v for k, v in leaks.items() if v}
