"""``avflow social approve`` on posts as people write them: no ``status:`` line (a draft by
default), Windows line endings, a byte-order mark, a flow-style front matter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from social_helpers import avflow_cli

from avflow.testing import Harness

PLAIN = "---\npublish: 2026-03-16 09:00\nchannels: [news]\n---\nFresh bread today.\n"
FILES = {
    "plain": PLAIN,
    "windows": PLAIN.replace("\n", "\r\n"),
    "bom": "\ufeff" + PLAIN,
    "with-status": PLAIN.replace("channels:", "status: draft   # not yet\nchannels:"),
}


@pytest.mark.parametrize("name", list(FILES))
def test_one_approval_is_enough(avflow_harness: Harness, posts: Path, name: str) -> None:
    h = avflow_harness
    path = posts / f"{name}.md"
    path.write_bytes(FILES[name].encode())
    approved = avflow_cli(h, "social", "approve", "bloom", name)
    assert approved.returncode == 0, approved.stderr
    raw = path.read_bytes().decode()
    assert "status: approved" in raw
    if name == "windows":  # the added line ends as the others do
        assert raw.count("\r\n") == raw.count("\n")
    queue = avflow_cli(h, "social", "queue", "bloom", "--json")
    [row] = [json.loads(line) for line in queue.stdout.splitlines() if line.startswith("{")]
    # before: a post without a status line was 'edited after approval' right after approval
    assert row["state"] == "approved", row
    h.clock.set("2026-03-16T10:00:00+01:00")
    result = h.run("bloom/publish")
    assert result.ok, result.error
    assert [p["post"] for p in result.outputs["publish"]["published"]] == [name]


def test_a_front_matter_it_cannot_rewrite_is_left_alone(
    avflow_harness: Harness, posts: Path
) -> None:
    h = avflow_harness
    path = posts / "flow.md"
    text = "---\n{publish: 2026-03-16 09:00, channels: [news]}\n---\nFresh bread today.\n"
    path.write_text(text)
    out = avflow_cli(h, "social", "approve", "bloom", "flow")
    # before: 'status: approved' was put above the mapping, and the post could not be read
    assert out.returncode == 2, out.stdout
    assert f"{path}:1:1: cannot set 'status: approved' in this front matter" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert path.read_text() == text
