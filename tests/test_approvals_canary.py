"""A canary secret in the effects the steps after an approval would perform: the preview shown
to the person deciding (``avflow approvals``, ``--json``, the audit trail, state.db) never
holds it, in any of its forms, nor does what the run does once approved or rejected."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from clikit import child, folders
from test_canary import CANARY, PLUGIN_DIR, found


def avflow(root: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return child(
        *folders(root),
        *["--plugins-dir", str(PLUGIN_DIR), "--log-level", "debug", *args],
        env={"AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"},
        drop=["AVFLOW_VAULT_KEY"],
        stdin=stdin,
    )


ASK = """\
steps:
  - id: check
    uses: core.approval
    with: { summary: "Send it?" }
  - uses: canary.leak
    with: { account: box }
"""


def test_a_secret_in_the_preview_is_never_shown_nor_stored(tmp_path: Path) -> None:
    for client in ("acme", "beta"):
        d = tmp_path / "workflows" / client
        d.mkdir(parents=True)
        (d / "client.yaml").write_text(
            f"name: {client}\naccounts:\n"
            "  box: { type: canary, user: me, password: '${secret:pw}' }\n"
        )
        (d / "ask.yaml").write_text(ASK)
    outputs = [avflow(tmp_path, "secrets", "set", c, "pw", stdin=CANARY) for c in ("acme", "beta")]
    for client in ("acme", "beta"):
        outputs.append(asked := avflow(tmp_path, "trigger", f"{client}/ask"))
        assert asked.returncode == 0 and "waiting" in asked.stdout, asked.stderr
    outputs += [
        listed := avflow(tmp_path, "approvals"),
        as_json := avflow(tmp_path, "approvals", "--json"),
    ]
    assert listed.returncode == 0 and "[REDACTED]" in listed.stdout, listed  # the leaks were shown
    ids = {a["client"]: a["id"] for a in map(json.loads, as_json.stdout.splitlines())}
    previews = [a["preview"] for a in map(json.loads, as_json.stdout.splitlines())]
    assert all(len(p) >= 8 for p in previews), previews  # one line per effect of canary.leak
    outputs.append(done := avflow(tmp_path, "approve", ids["acme"]))
    assert done.returncode == 0 and "succeeded" in done.stdout, done
    outputs.append(avflow(tmp_path, "reject", ids["beta"], "--reason", "no"))
    outputs += [avflow(tmp_path, "audit", "show", c) for c in ("acme", "beta")]
    for r in outputs:
        assert "Traceback" not in r.stderr, r.stderr[-2000:]
        assert not found(r.stdout.encode()), (r.args, found(r.stdout.encode()))
        assert not found(r.stderr.encode()), (r.args, found(r.stderr.encode()))
    files = [p for p in (tmp_path / "home").rglob("*") if p.is_file()]
    leaks = {str(p): found(p.read_bytes()) for p in files}
    assert not any(leaks.values()), {k: v for k, v in leaks.items() if v}
