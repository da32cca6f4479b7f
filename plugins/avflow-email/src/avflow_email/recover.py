"""Finishing an interrupted plan's moves on a server that may still be carrying them out.

A ``UID MOVE`` goes on at the server after avflow is killed: the server copies a batch into the
destination, then expunges it from the source, and a slow server can take seconds for each
batch. A re-run that simply moved again what is still in the source would copy, a second time,
messages that are already in the destination and not yet expunged; its move could also meet
``NO [EXPUNGEISSUED]`` for messages the old command expunges meanwhile. So when a plan whose
moves had started is carried out again:

1. *settle*: wait until the source and the destinations have stopped changing (`SETTLE`
   seconds without a change, at most `SETTLE_MAX`), so the old command has finished;
2. *reconcile*, per move: what the destination received since the plan was made (its UIDNEXT is
   recorded in the plan, ``marks``) is matched against the messages still in the source by
   identity (Message-ID, Date, From, Subject, size and arrival time, which a move keeps). Those
   already there are not moved again: they are removed from the source (the old move's last
   step); the others are moved. ``NO [EXPUNGEISSUED]`` makes the move look again, never fail;
3. *check*: after the moves, settle again and remove from what the destination received since
   the plan any second copy of a message the plan moved there once.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import structlog

from avflow_email.backend import uid_set

log = structlog.get_logger("avflow_email.recover")

SETTLE = 3.0  # seconds the folders must stay unchanged
SETTLE_MAX = 120.0  # then go on anyway
POLL = 0.25
ID_FIELDS = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM SUBJECT)]"
Identity = tuple[int, str, bytes]


def record_marks(box: Any, plan: dict[str, Any]) -> None:
    """Before a plan is saved: each destination's UIDVALIDITY and UIDNEXT (None: no folder)."""
    marks: dict[str, list[int] | None] = {}
    for dest in sorted({op["dest"] for op in plan["ops"] if op["op"] in ("move", "copy")}):
        if not box.folder_exists(dest):
            marks[dest] = None
            continue
        st = box.status(dest)
        marks[dest] = [st.uidvalidity, st.uidnext]
    plan["marks"] = marks


def _identity(item: dict[bytes, Any]) -> Identity:
    raw = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER")), b"") or b""
    when: Any = item.get(b"INTERNALDATE")
    return (
        int(item.get(b"RFC822.SIZE", 0)),
        when.isoformat() if isinstance(when, datetime) else str(when),
        b"\n".join(sorted(line.strip() for line in raw.splitlines() if line.strip())),
    )


def _message_id(identity: Identity) -> str:
    for line in identity[2].split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            return line[11:].strip().decode("utf-8", "replace")
    return ""


class Recovery:
    """The reconciling state of one re-run; shared by the connections that move (`sibling`)."""

    def __init__(self, folder: str, marks: dict[str, Any], sleep: Callable[[float], None]) -> None:
        self.folder = folder
        self.marks = marks
        self.sleep = sleep

    # -- settle -----------------------------------------------------------------------------------
    def settle(self, box: Any, dests: Sequence[str]) -> bool:
        """Wait until ``folder`` and ``dests`` have not changed for `SETTLE` seconds, or twice
        the longest pause seen between two changes, whichever is longer."""
        folders = [self.folder, *sorted(set(dests))]
        started = last_change = time.monotonic()
        quiet = SETTLE
        seen = self._state(box, folders)
        while time.monotonic() - last_change < quiet:
            if time.monotonic() - started > SETTLE_MAX:
                log.warning("folders still changing; going on", folders=folders)
                return False
            self.sleep(POLL)
            now = self._state(box, folders)
            if now != seen:
                at = time.monotonic()
                if last_change > started:  # a pause between two changes we saw
                    quiet = max(quiet, 2 * (at - last_change))
                seen, last_change = now, at
        return True

    @staticmethod
    def _state(box: Any, folders: list[str]) -> list[tuple[int, int | None]]:
        out: list[tuple[int, int | None]] = []
        for folder in folders:
            if not box.folder_exists(folder):
                out.append((-1, None))
                continue
            st = box.status(folder)
            out.append((st.messages, st.uidnext))
        return out

    # -- reconcile --------------------------------------------------------------------------------
    def arrived(self, box: Any, dest: str) -> dict[int, Identity]:
        """UID -> identity of what ``dest`` received since the plan was made."""
        mark = self.marks.get(dest)
        if not box.folder_exists(dest):
            return {}
        start = 1
        if mark is not None:
            st = box.status(dest)
            if st.uidvalidity == mark[0]:
                start = int(mark[1] or 1)
        items = box.examine_fetch(dest, f"{start}:*", ["RFC822.SIZE", "INTERNALDATE", ID_FIELDS])
        return {uid: _identity(d) for uid, d in items.items() if uid >= start}

    def to_move(self, box: Any, uids: Sequence[int], dest: str) -> list[int]:
        """The UIDs of ``uids`` still to move: those still in the source, less those whose copy
        is already in ``dest`` (removed from the source here, as the old move would have)."""
        present = box.present(uids)
        if not present:
            return []
        there = Counter(self.arrived(box, dest).values())
        mine = box.fetch_items(uid_set(present), ["RFC822.SIZE", "INTERNALDATE", ID_FIELDS])
        already = []
        for uid in present:
            ident = _identity(mine.get(uid, {}))
            if there[ident] > 0:
                there[ident] -= 1
                already.append(uid)
        if already:
            log.info("already in the destination, not moved again", dest=dest, n=len(already))
            if "UIDPLUS" in box.caps:
                box.expunge_own(already)
            else:
                log.warning(
                    "also still in the source: no UIDPLUS to remove them alone", n=len(already)
                )
        done = set(already)
        return [u for u in present if u not in done]

    # -- check ------------------------------------------------------------------------------------
    def remove_second_copies(self, box: Any, plan: dict[str, Any]) -> int:
        """Remove from each destination any extra copy (same identity) of a message the plan
        moved there, among what it received since the plan. Returns how many were removed."""
        wanted: dict[str, Counter[str]] = {}
        for h in plan["handled"]:
            if h.get("destination") not in (None, plan["folder"]) and h.get("message_id"):
                wanted.setdefault(h["destination"], Counter())[h["message_id"]] += 1
        removed = 0
        for dest, expected in wanted.items():
            groups: dict[Identity, list[int]] = {}
            for uid, ident in sorted(self.arrived(box, dest).items()):
                groups.setdefault(ident, []).append(uid)
            extra = []
            for ident, uids in groups.items():
                keep = expected.get(_message_id(ident), 0)
                if keep and len(uids) > keep:
                    extra += uids[keep:]
            if extra:
                log.warning("second copies removed", dest=dest, n=len(extra))
                box.expunge_in(dest, extra)
                removed += len(extra)
        return removed
