"""Moving a big triage's messages over several IMAP connections at once.

Most of a big first triage is the server moving messages. One ``UID MOVE`` per destination, one
after the other, keeps one server process busy; sent on a few connections at once, the moves of
different destinations run side by side (on another core, for a server on this machine). Each
connection moves whole destinations, taking the largest one left whenever it is free, so every
destination is still one ``UID MOVE``. A move by UID is safe to repeat: UIDs already moved name
nothing in the folder any more (UIDs are never reused under one UIDVALIDITY), so a repeat moves
nothing twice.

The flag and label changes of the messages being moved travel with their move (`plan_moves`):
each destination's connection sets them, in the plan's order, just before its ``UID MOVE``, so
they too are done side by side; a repeat sets them again on what is still there, which changes
nothing more. The changes of the messages that stay go along, on whichever connection is free.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import avflow


@dataclass
class Batch:
    """One destination's ``UID MOVE``, and the flag and label changes set on its UIDs first;
    or (``dest`` None) the changes of the messages that stay."""

    dest: str | None
    uids: list[Any]
    stores: list[dict[str, Any]] = field(default_factory=list)  # plan ops, UIDs narrowed

    def carry_out(self, box: Any) -> None:
        for op in self.stores:
            if op["op"] == "flag":
                box.set_flag(op["uids"], op["flag"], op["add"])
            else:
                box.add_label(op["uids"], op["label"])
        if self.dest is not None:
            box.move(self.uids, self.dest)

    def changes(self) -> str:
        """``"+\\Seen, label Clienti"``: what is set before the move, for descriptions."""
        return ", ".join(
            f"{'+' if op['add'] else '-'}{op['flag']}"
            if op["op"] == "flag"
            else f"label {op['label']}"
            for op in self.stores
        )


def plan_moves(ops: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Batch]]:
    """Split a plan's operations for moving together: the operations to carry out one by one
    first, and one `Batch` per move carrying the flag and label changes of its messages, plus
    one for the changes of the messages that stay (each in the plan's order).

    A plan that copies keeps every flag change first: a copy takes the flags set before it.
    """
    batches = [Batch(op["dest"], list(op["uids"])) for op in ops if op["op"] == "move"]
    first = [op for op in ops if op["op"] != "move"]
    if any(op["op"] == "copy" for op in ops):
        return first, batches
    where = {uid: i for i, b in enumerate(batches) for uid in b.uids}
    before: list[dict[str, Any]] = []
    stays = Batch(None, [])
    for op in first:
        if op["op"] not in ("flag", "label"):
            before.append(op)
            continue
        stay: list[Any] = []
        moving: dict[int, list[Any]] = {}
        for uid in op["uids"]:
            i = where.get(uid)
            if i is None:
                stay.append(uid)
            else:
                moving.setdefault(i, []).append(uid)
        for i, uids in moving.items():
            batches[i].stores.append({**op, "uids": uids})
        if stay:
            stays.stores.append({**op, "uids": stay})
            stays.uids = list(dict.fromkeys(stays.uids + stay))
    return before, batches + ([stays] if stays.stores else [])


# Below this many messages the extra connection's login costs more than the moves save.
PARALLEL_MIN = 500


class Opening:
    """A connection being opened in the background: `result` waits for it (or its error)."""

    def __init__(self, open_: Callable[[], Any]) -> None:
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(open_,), name="avflow-email-open", daemon=True
        )
        self._thread.start()

    def _run(self, open_: Callable[[], Any]) -> None:
        try:
            self._value = open_()
        except BaseException as exc:  # handed to whoever asks for the connection
            self._error = exc

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value

    def discard(self) -> None:
        """Close the connection once it is open (it was not needed after all)."""
        self._thread.join()
        if self._value is not None:
            with suppress(Exception):
                self._value.close()


def worth_parallel(batches: Sequence[Batch], connections: int) -> bool:
    moves = [b for b in batches if b.dest is not None]
    return connections > 1 and len(moves) > 1 and sum(len(b.uids) for b in moves) >= PARALLEL_MIN


def move_batches(box: Any, batches: Sequence[Batch], connections: int) -> dict[str, int]:
    """Carry out ``batches`` (their flag changes, then one ``UID MOVE`` each) over ``box`` and
    up to ``connections - 1`` more connections of the same account (``box.sibling()``), all at
    once. Each connection takes the largest batch left whenever it is free, so a destination the
    server is slow to fill does not hold up the others.

    A connection that cannot be opened (a server limiting connections per user) leaves the work
    to the others. After an error no connection starts another batch, and the first error is
    raised once every connection has finished what it was doing. Returns how many connections
    moved messages.
    """
    queue = sorted(batches, key=lambda b: -len(b.uids))
    lock = threading.Lock()
    errors: list[BaseException] = []
    used: set[int] = set()

    def take() -> Batch | None:
        with lock:
            return queue.pop(0) if queue and not errors else None

    def drain(connection: Any, n: int) -> None:
        while (batch := take()) is not None:
            used.add(n)
            batch.carry_out(connection)

    def work(n: int) -> None:
        try:
            other = box.sibling()
        except avflow.StepFailed:
            return
        try:
            drain(other, n)
        except BaseException as exc:  # handed to the caller's thread
            errors.append(exc)
        finally:
            other.close()

    workers = [
        threading.Thread(target=work, args=(n,), name=f"avflow-email-move-{n}", daemon=True)
        for n in range(1, min(connections, len(queue)))
    ]
    for w in workers:
        w.start()
    try:
        drain(box, 0)
    except BaseException as exc:
        errors.insert(0, exc)
    for w in workers:
        w.join()
    if errors:
        raise errors[0]
    return {"connections": len(used)}
