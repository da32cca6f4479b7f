"""An SMTP sink in a process of its own (it must outlive the avflow process a test kills).

usage: python smtp_sink.py PORT FOLDER [FIRST_DELAY]
Each message is written to FOLDER/msg-<n>.eml; FOLDER/receiving-<n> is written when the body has
arrived, before the reply, and the first message is held FIRST_DELAY seconds there.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, folder: Path, first_delay: float) -> None:
        self.folder = folder
        self.first_delay = first_delay
        self.n = 0

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.n += 1
        n = self.n
        (self.folder / f"receiving-{n}").write_text(envelope.mail_from)
        if n == 1 and self.first_delay:
            time.sleep(self.first_delay)  # blocks the loop on purpose: the sender waits for "250"
        tmp = self.folder / f".{uuid.uuid4().hex}"
        tmp.write_bytes(envelope.content)
        tmp.rename(self.folder / f"msg-{n}.eml")
        return "250 OK"


def main() -> None:
    port, folder = int(sys.argv[1]), Path(sys.argv[2])
    delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(Handler(folder, delay), hostname="127.0.0.1", port=port)
    controller.start()
    (folder / "ready").touch()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
