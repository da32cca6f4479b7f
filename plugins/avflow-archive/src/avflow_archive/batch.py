"""A batch of files written as one effect in avflow's ledger.

A big step on a local archive pays the ledger's fsynced intent once per batch instead of once
per file. The effect's key names every file of the batch (kind, SHA-256, destination), so a
resumed step that composes the same batch finds it done; an interrupted batch is reconciled by
looking for every one of its files at its destination (and numbered variants). One file that
cannot be written is recorded against that file; the others are written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from avflow import AvflowError, StepFailed
from avflow_archive.backends import file_into, find_existing
from avflow_archive.incoming import Incoming
from avflow_archive.sniff import Content, LazyText
from avflow_archive.source import Source, SourceChanged


@dataclass
class Write:
    """A file whose write waits for its batch's one effect."""

    item: Incoming
    source: Source
    content: Content
    dest: PurePosixPath
    text: LazyText
    entry: dict[str, Any]  # handed to the caller at once, completed by `commit`
    reason: str | None = None  # set: a quarantine, for this reason
    followers: list[tuple[Incoming, dict[str, Any]]] = field(default_factory=list)

    @property
    def line(self) -> str:
        kind = "quarantine" if self.reason is not None else "file"
        return f"{kind}:{self.content.sha256}:{self.dest}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{getattr(exc, 'strerror', None) or text or type(exc).__name__}"


def file_one(
    filer: Any,
    key: str,
    description: str,
    kind: str,
    rel: PurePosixPath,
    source: Source,
    content: Content,
) -> dict[str, Any] | None:
    """One file written as an effect of its own (a step too small to batch, or a store
    whose effects are not grouped); its result, or StepFailed naming the file."""
    token = _digest(key)[:24]

    def perform() -> dict[str, Any]:
        return file_into(
            filer.store, rel, source, content.sha256, content.size, token, content.type
        ).as_result()

    def reconcile() -> dict[str, Any] | None:
        found = find_existing(filer.store, rel, content.sha256, content.size)
        filer.store.discard_partial(rel, token)
        return None if found is None else {"path": str(found), "status": "filed"}

    try:
        result = filer.ctx.effect(
            key,
            description,
            perform,
            kind=kind,
            reconcile=reconcile,
            words={"name": rel.name, "folder": str(rel.parent)},  # within the archive
        )
    except (AvflowError, SourceChanged):
        raise
    except OSError as exc:
        raise StepFailed(
            f"cannot write {filer.store.describe(rel)}: {exc.strerror or exc}"
        ) from None
    except Exception as exc:  # a server's refusal (an HTTP 507, a dropped SSH session)
        detail = (str(exc).splitlines() or [""])[0][:200]
        raise StepFailed(
            f"cannot write {filer.store.describe(rel)}: {type(exc).__name__}: {detail}"
        ) from None
    return dict(result) if result is not None else None


def commit(filer: Any, writes: list[Write]) -> None:
    """Write ``writes`` as one effect, then complete each one's entry and index row."""
    ctx, store = filer.ctx, filer.store
    key = f"files:{filer.params.account}:{_digest(chr(10).join(w.line for w in writes))[:32]}"
    tried = ctx.effect_status(key) is not None

    def token(w: Write) -> str:
        return _digest(f"{key}\n{w.line}")[:24]

    def perform() -> list[dict[str, Any]]:
        for w in writes:  # written and fsynced a few at a time; published below, in order
            store.stage(w.dest, w.source, token(w))
        try:
            return [publish(w) for w in writes]
        finally:
            store.discard_staged()

    def publish(w: Write) -> dict[str, Any]:
        try:
            placed = file_into(
                store, w.dest, w.source, w.content.sha256, w.content.size, token(w), w.content.type
            )
        except AvflowError as exc:  # a server's refusal, as StepFailed: this file only
            return {"path": None, "status": "failed", "reason": _one_line(exc)}
        except Exception as exc:  # a full disk, a file changed while copied: this file only
            reason = f"cannot write {store.describe(w.dest)}: {_one_line(exc)}"
            return {"path": None, "status": "failed", "reason": reason}
        if w.reason is not None:
            ctx.note(
                f"quarantined {w.entry['name']}: {w.reason}",
                sha256=w.content.sha256,
                source=w.item.source,
            )
        status = "filed" if tried and placed.status == "duplicate" else placed.status
        return {"path": str(placed.path), "status": status}

    names = ", ".join(w.entry["name"] for w in writes[:3])
    more = f" and {len(writes) - 3} more" if len(writes) > 3 else ""
    try:
        results = ctx.effect(
            key,
            f"file {len(writes)} documents ({names}{more}) into {store.label}",
            perform,
            kind="archive.file",
            reconcile=lambda: _reconcile(store, writes, token),
        )
    finally:
        for w in writes:
            w.source.close()
    for w, result in zip(writes, results, strict=True):
        _complete(filer, w, result)


def _reconcile(
    store: Any, writes: list[Write], token: Callable[[Write], str]
) -> list[dict[str, Any]] | None:
    """A batch interrupted after its intent: its results if every file of it is in place."""
    found: list[dict[str, Any]] | None = []
    for w in writes:  # every partial file of the batch removed, whatever is found
        there = find_existing(store, w.dest, w.content.sha256, w.content.size)
        store.discard_partial(w.dest, token(w))
        if there is None:
            found = None  # not all there: the batch is written again (nothing twice)
        elif found is not None:
            found.append({"path": str(there), "status": "filed"})
    return found


def _complete(filer: Any, w: Write, result: dict[str, Any]) -> None:
    entry = w.entry
    if result["status"] == "failed":
        entry.update(status="failed", path=None, reason=result["reason"])
        filer.ctx.note(f"could not file {entry['name']}: {result['reason']}", source=w.item.source)
        for _, dup in w.followers:
            dup.update(status="failed", reason=f"same content as {entry['name']}, not filed")
        return
    path = result["path"]
    if w.reason is not None:
        filer._index(w.item, w.content, path, w.text, entry, "quarantined", w.reason)
        entry.update(status="quarantined", path=path, reason=w.reason)
    else:
        filer._index(w.item, w.content, path, w.text, entry, "filed")
        if result["status"] == "duplicate":
            entry.update(filer._duplicate(w.item, w.content, path, entry))
        else:
            entry.update(status="filed", path=path)
    filer.seen[w.content.sha256] = (path, w.item.path)
    for item, dup in w.followers:
        dup.update(filer._duplicate(item, w.content, path, dup))
