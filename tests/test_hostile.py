"""`avflow validate` on hostile workflow files: one line each, exit 2, nothing read or echoed.

A FIFO named ``*.yaml``, links to ``/dev/zero`` and to a secret outside the workflows folder, a
50 MB file, an alias bomb, deep nesting: each is refused in one line naming the file, quickly and
in little memory (the whole run is one real process with a timeout, so a hang fails the test).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PLUGINS_DIR = Path(__file__).parent / "plugins_dir"
PROFILE = "name: Test\ntimezone: Europe/Rome\n"
STEP = "steps:\n  - uses: core.log\n    with: { message: hi }\n"
CANARY = "CANARY-7f3a"


def alias_bomb(levels: int = 12) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n" + STEP


def hostile_folder(root: Path) -> dict[str, str]:
    """Write one client with every hostile file; returns file name -> the refusal expected."""
    secret = root / "outside" / "shadow"
    secret.parent.mkdir(parents=True)
    secret.write_text(f"root:{CANARY}:19000:0:99999:7:::\n")
    folder = root / "workflows" / "acme"
    folder.mkdir(parents=True)
    (folder / "client.yaml").write_text(PROFILE)
    (folder / "good.yaml").write_text(STEP)
    os.mkfifo(folder / "fifo.yaml")
    (folder / "zero.yaml").symlink_to("/dev/zero")
    (folder / "shadow.yaml").symlink_to(secret)
    (folder / "leaves.yaml").symlink_to("../../outside/shadow")
    with (folder / "huge.yaml").open("wb") as f:
        f.write(b"# " + CANARY.encode() + b"\n")
        f.truncate(50 * 1024 * 1024)
    (folder / "bomb.yaml").write_text(alias_bomb())
    (folder / "deep.yaml").write_text("steps: " + "[" * 100_000 + "]" * 100_000 + "\n")
    (folder / "dashes.yaml").write_text("steps:\n" + "- " * 100_000 + "x\n")
    (folder / "binary.yaml").write_bytes(CANARY.encode() + b"\x00\xff\xfe\n")
    return {
        "fifo.yaml": "not a regular file (nothing was read)",
        "zero.yaml": "a symbolic link: workflow files must be regular files (nothing was read)",
        "shadow.yaml": "a symbolic link: workflow files must be regular files (nothing was read)",
        "leaves.yaml": "a symbolic link: workflow files must be regular files (nothing was read)",
        "huge.yaml": "file too large (52,428,800 bytes; the limit is 262,144): nothing was read",
        "bomb.yaml": "aliases expand to more than 10,000 nodes (an alias bomb?)",
        "deep.yaml": "nested deeper than 64 levels",
        "dashes.yaml": "nested deeper than 64 levels",
        "binary.yaml": "not UTF-8 text",
    }


def run_validate(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"}
    cmd = [sys.executable, "-m", "avflow", "--workflows", str(root / "workflows")]
    cmd += ["--home", str(root / "home"), "--plugins-dir", str(PLUGINS_DIR), "validate"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def test_each_hostile_file_is_one_line_and_nothing_is_echoed(tmp_path: Path) -> None:
    expected = hostile_folder(tmp_path)
    result = run_validate(tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert CANARY not in result.stderr
    lines = result.stderr.strip().splitlines()
    folder = tmp_path / "workflows" / "acme"
    assert len(lines) == len(expected), result.stderr
    for name, message in expected.items():
        mine = [line for line in lines if line.startswith(f"{folder / name}:")]
        assert len(mine) == 1 and message in mine[0], (name, result.stderr)


def test_a_hostile_client_profile_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text(f"root:{CANARY}:1:2:3\n")
    folder = tmp_path / "workflows" / "acme"
    folder.mkdir(parents=True)
    (folder / "client.yaml").symlink_to(secret)
    (folder / "wf.yaml").write_text(STEP)
    result = run_validate(tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"{folder / 'client.yaml'}: a symbolic link: workflow files must be regular files "
        "(nothing was read)"
    ]
