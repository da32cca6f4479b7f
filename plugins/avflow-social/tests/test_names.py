"""A post file whose name is not UTF-8 (bytes from another system's archive): the others go out
and the file is named in one line. The post id and ledger key made from its name could not be
written (UnicodeEncodeError), and the whole publishing pass failed."""

from __future__ import annotations

import os
from pathlib import Path

from social_helpers import avflow_cli, write_post
from test_publish import outbox

from avflow.testing import Harness


def test_a_post_whose_name_is_not_utf8_is_named_and_the_others_go_out(
    avflow_harness: Harness, posts: Path
) -> None:
    h = avflow_harness
    body = b"---\npublish: 2026-03-16 09:00\nchannels: [news]\nstatus: approved\n---\nHi\n"
    with open(os.path.join(os.fsencode(posts), b"caf\xe9.md"), "wb") as f:
        f.write(body)
    write_post(posts, "fine", publish="2026-03-16 09:00", channels=["news"], status="approved")
    h.clock.set("2026-03-16T09:30:00+01:00")
    result = h.run("bloom/publish")
    assert result.status == "failed"
    assert [p["post"] for p in outbox(h, "news")] == ["fine"]
    line = f"{posts}/caf\ufffd.md:1:1: the file's name is not UTF-8 text: rename the file"
    assert line in result.error, result.error  # before: UnicodeEncodeError, nothing published
    queue = avflow_cli(h, "social", "queue", "bloom")
    assert queue.returncode == 2 and line in queue.stderr and "Traceback" not in queue.stderr
