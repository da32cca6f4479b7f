"""Filing one file: choose its rule and destination, write it once, index it.

Every write is an effect in avflow's ledger, keyed by the content's SHA-256 and the intended
destination, so a resumed run never writes twice: an interrupted write is reconciled by looking
for the content at the destination (and its numbered variants) before anything is tried again.
A big step on a local archive writes a batch of files as one effect (`Filer.commit`): the
ledger's fsynced intent is paid once per batch, and reconciling it looks for every file.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from avflow import AvflowError, StepContext, StepFailed
from avflow_archive import textpool
from avflow_archive.backends import Store, find_existing, open_store
from avflow_archive.batch import Write, commit, file_one
from avflow_archive.incoming import Incoming
from avflow_archive.index import ArchiveIndex
from avflow_archive.items import FileVars
from avflow_archive.params import FilingParams
from avflow_archive.rules import choose
from avflow_archive.sanitize import archive_path, clean_component
from avflow_archive.sniff import Content, LazyText, inspect
from avflow_archive.source import Source, SourceChanged
from avflow_archive.textpool import TextPool

POOL_MIN_FILES = 16  # fewer documents than this: their text is extracted in this process
POOL_WORKERS = 2  # at most; one core is left to the filing itself (one worker on two cores)
GROUP_MIN_FILES = 16  # a step with at least this many files writes each batch as one effect


class TemplateFailed(AvflowError):
    """A path template that cannot be rendered: the step fails before filing this file (or
    any after it) and removes nothing, since the template, not the file, is to be fixed."""

    def __init__(self, name: str, rule: str | None, exc: Exception) -> None:
        detail = (str(exc).splitlines() or [""])[0][:200] or type(exc).__name__
        which = f"the path template of rule {rule!r}" if rule else "the path template"
        super().__init__(
            f"{which} failed for {name}: {detail}; fix the template: this file and the ones "
            "after it were neither filed nor removed"
        )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class Filer:
    """Files documents into one archive account for one step."""

    def __init__(self, ctx: StepContext, params: FilingParams) -> None:
        self.ctx = ctx
        self.params = params
        self.account = ctx.account(params.account)
        self.settings = self.account.settings
        self.store: Store = open_store(self.account, dry_run=ctx.dry_run, client=ctx.client)
        self.index = ArchiveIndex(ctx.data_dir / "index.db")
        self.quarantine = PurePosixPath(self.settings.quarantine)
        self.pending: list[tuple[str, Callable[[], None]]] = []  # index writes, for flush()
        self.documents: list[tuple[str, dict[str, Any], LazyText | None]] = []  # and rows
        self.pool: TextPool | None = None
        self.seen: dict[str, tuple[str, Path]] = {}  # sha256 -> (path, source file) this step
        self.grouped = False
        self.writes: list[Write] = []  # waiting for commit()
        self.planned: dict[str, Write] = {}  # sha256 -> its write in the batch under way
        self.now = ctx.now()
        self.retain_until = None
        if self.settings.retention_years:
            years = self.settings.retention_years
            day = self.now.date()
            try:
                self.retain_until = day.replace(year=day.year + years).isoformat()
            except ValueError:  # 29 February
                self.retain_until = day.replace(year=day.year + years, day=28).isoformat()

    def start_batch(self, expected: int) -> None:
        """File in batches: `flush` makes each batch durable and indexed at once.

        With many documents to index, PDF text is extracted by worker processes meanwhile.
        """
        self.store.start_batch()
        self.grouped = not self.ctx.dry_run and self.store.group_effects
        self.grouped = self.grouped and expected >= GROUP_MIN_FILES
        pooled = self.params.index_text and not self.ctx.dry_run and expected >= POOL_MIN_FILES
        if pooled and textpool.usable():
            self.pool = TextPool(max(1, min(POOL_WORKERS, (os.cpu_count() or 2) - 1)))

    def flush(self) -> None:
        """Make the files written since the last flush durable (one fsync per folder), then
        write their index rows in one transaction."""
        self.commit()
        self.store.flush()
        self._write_index()

    def _write_index(self) -> None:
        pending, self.pending = self.pending, []
        documents, self.documents = self.documents, []
        if not pending and not documents:
            return
        with self.index.batch():
            rows, names = [], []
            for name, row, text in documents:
                try:
                    rows.append({**row, "text": text() if text is not None else ""})
                    names.append(name)
                except Exception as exc:
                    self._not_indexed(name, exc)
            for n, err in self.index.record_many(rows) if rows else []:
                self._not_indexed(names[n], err)
            for name, write in pending:
                try:
                    write()
                except Exception as exc:
                    self._not_indexed(name, exc)

    def _not_indexed(self, name: str, exc: Exception) -> None:
        """Filed, but not in the index: say so, go on."""
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        self.ctx.note(f"filed {name} but could not index it: {reason}")

    def commit(self) -> None:
        """Write the files waiting for their batch, as one effect (see `batch.commit`)."""
        writes, self.writes = self.writes, []
        self.planned.clear()
        if writes:
            commit(self, writes)

    def _defer(self, write: Write) -> dict[str, Any]:
        self.writes.append(write)
        if write.reason is None:
            self.planned[write.content.sha256] = write
        return write.entry

    def close(self) -> None:
        """Release everything; writes still waiting for their batch are not made (a step that
        stops on an error performs no more effects): the next attempt files those files."""
        writes, self.writes = self.writes, []
        for write in writes:
            write.source.close()
        try:
            self.store.flush()
            self._write_index()
        finally:
            if self.pool is not None:
                self.pool.close()
            self.store.close()
            self.index.close()

    # -- one file ---------------------------------------------------------------------------------
    def file(self, item: Incoming) -> dict[str, Any]:
        """File ``item``; return where it went (an entry of the step's outputs).

        The file is opened once, without following a link (and, for a drop file, only if it is
        still the file the listing saw); everything is read from that one descriptor.
        """
        try:
            source = Source.open(item.path, item.identity)
        except SourceChanged as exc:  # swapped since the listing: left alone, never followed
            return self._left(item, "changed", f"{exc}: left alone")
        except OSError as exc:  # unreadable (permissions): reported, left where it is
            return self._left(item, "unreadable", f"cannot read the file: {exc.strerror or exc}")
        try:
            entry = self._file_open(item, source)
        except BaseException:
            source.close()
            raise
        if not (self.writes and self.writes[-1].source is source):
            source.close()  # done with it (a write waiting for its batch keeps it open)
        return entry

    def _left(self, item: Incoming, status: str, reason: str) -> dict[str, Any]:
        return {
            "name": clean_component(item.name),
            "source": item.source,
            "status": status,
            "path": None,
            "reason": reason,
        }

    def _file_open(self, item: Incoming, source: Source) -> dict[str, Any]:
        content = inspect(source)
        text = LazyText(source, content)
        fvars = FileVars(item, content, self.ctx.client.tz, self.now)
        rule = choose(self.params.rules, item, content, fvars.date, text)
        entry: dict[str, Any] = {
            "name": fvars.name,
            "source": item.source,
            "sha256": content.sha256,
            "size": content.size,
            "type": content.type,
            "rule": rule.name if rule else None,
        }
        if rule is not None and rule.skip:
            return {**entry, "status": "skipped", "path": None}
        template = rule.path if rule is not None and rule.path else self.params.path
        if template is None:
            return {**entry, "status": "unmatched", "path": None}
        if rule is not None:
            fvars = FileVars(item, content, self.ctx.client.tz, self.now, rule.name)
        try:
            rendered = self.ctx.render(template, file=fvars)
        except Exception as exc:  # a division by zero, a filter misused: the workflow's mistake
            raise TemplateFailed(entry["name"], rule.name if rule else None, exc) from None
        checked = archive_path(rendered)
        dest, reason = checked.path, checked.reason
        dest = self.store.adapt(dest) if dest is not None else None
        if dest is not None and not self.store.inside(dest):
            dest, reason = None, "the path leads out of the archive through a symbolic link"
        if dest is None:
            return self._quarantine(item, source, content, fvars, text, entry, reason or "unknown")
        return self._place(item, source, content, dest, text, entry)

    def _place(
        self,
        item: Incoming,
        source: Source,
        content: Content,
        dest: PurePosixPath,
        text: LazyText,
        entry: dict[str, Any],
    ) -> dict[str, Any]:
        ctx = self.ctx
        earlier = self.seen.get(content.sha256)
        if earlier is not None and earlier[1] != item.path:
            # the same content came twice in this step: the second is a duplicate of the first
            return self._duplicate(item, content, earlier[0], entry)
        planned = self.planned.get(content.sha256)
        if planned is not None:  # ... its first copy waits in this batch
            dup = {**entry, "status": "duplicate", "path": None}
            planned.followers.append((item, dup))
            return dup
        key = f"file:{self.params.account}:{content.sha256}:{_digest(str(dest))[:16]}"
        if self.grouped or ctx.effect_status(key) is None:
            known = self._known(item, content, entry)
            if known is not None:
                return known
        if ctx.dry_run:
            found = find_existing(self.store, dest, content.sha256, content.size)
            ctx.effect(
                key,
                f"file {entry['name']} as {self.store.describe(dest)}",
                lambda: None,
                kind="archive.file",
            )
            if found is not None:
                return {**entry, "status": "duplicate", "path": str(found)}
            self.seen[content.sha256] = (str(dest), item.path)
            return {**entry, "status": "would_file", "path": str(dest)}
        if self.params.index_text:
            text.prefetch(self.pool)  # extraction runs while the file is copied
        if self.grouped:
            return self._defer(Write(item, source, content, dest, text, dict(entry)))
        result = file_one(
            self,
            key,
            f"file {entry['name']} as {self.store.describe(dest)}",
            "archive.file",
            dest,
            source,
            content,
        )
        assert result is not None
        self._index(item, content, result["path"], text, entry, "filed")
        self.seen[content.sha256] = (result["path"], item.path)
        if result["status"] == "duplicate":
            return self._duplicate(item, content, result["path"], entry)
        return {**entry, "status": result["status"], "path": result["path"]}

    def _known(
        self, item: Incoming, content: Content, entry: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The entry of content the index says is already in the archive, if it still is."""
        known = self.index.by_hash(self.ctx.client.id, self.params.account, content.sha256)
        if known is None or not self.store.same_content(
            PurePosixPath(known.path), content.sha256, content.size
        ):
            return None  # not there, or removed or replaced in the archive since: file it
        if known.run_id == self.ctx.run.id and known.source == item.source:
            # filed by this run before it was interrupted: report it as filed again
            return {**entry, "status": "filed", "path": known.path}
        return self._duplicate(item, content, known.path, entry)

    def _duplicate(
        self, item: Incoming, content: Content, path: str, entry: dict[str, Any]
    ) -> dict[str, Any]:
        if not self.ctx.dry_run:
            write = functools.partial(
                self.index.record_duplicate,
                client=self.ctx.client.id,
                account=self.params.account,
                sha256=content.sha256,
                path=path,
                name=entry["name"],
                source=item.source,
                sender=item.sender,
                date=_iso(item.date),
                run_id=self.ctx.run.id,
                seen_at=self.now.isoformat(),
            )
            self.pending.append((entry["name"], write))
        return {**entry, "status": "duplicate", "path": path}

    def _quarantine(
        self,
        item: Incoming,
        source: Source,
        content: Content,
        fvars: FileVars,
        text: LazyText,
        entry: dict[str, Any],
        reason: str,
    ) -> dict[str, Any]:
        ctx = self.ctx
        dest = self.store.adapt(
            self.quarantine / clean_component(f"{content.sha256[:12]}-{fvars.name}")
        )
        if not self.store.inside(dest):
            raise StepFailed(
                f"the quarantine folder {self.quarantine} leads out of the archive "
                f"(a symbolic link?): {entry['name']} was not filed ({reason})"
            )
        key = f"quarantine:{self.params.account}:{content.sha256}"
        description = f"quarantine {entry['name']} as {self.store.describe(dest)}: {reason}"
        if ctx.dry_run:
            ctx.effect(key, description, lambda: None, kind="archive.quarantine")
            return {**entry, "status": "would_quarantine", "path": str(dest), "reason": reason}
        if self.params.index_text:
            text.prefetch(self.pool)
        if self.grouped:
            return self._defer(Write(item, source, content, dest, text, dict(entry), reason))
        if ctx.effect_status(key) is None:
            ctx.note(
                f"quarantined {entry['name']}: {reason}", sha256=content.sha256, source=item.source
            )
        result = file_one(self, key, description, "archive.quarantine", dest, source, content)
        assert result is not None
        self._index(item, content, result["path"], text, entry, "quarantined", reason)
        return {**entry, "status": "quarantined", "path": result["path"], "reason": reason}

    def _index(
        self,
        item: Incoming,
        content: Content,
        path: str,
        text: LazyText,
        entry: dict[str, Any],
        status: str,
        reason: str | None = None,
    ) -> None:
        if self.params.index_text:
            text.prefetch(self.pool)  # while the file is open; the row is written by flush()
        row = {
            "client": self.ctx.client.id,
            "account": self.params.account,
            "path": path,
            "sha256": content.sha256,
            "size": content.size,
            "type": content.type,
            "name": entry["name"],
            "source": item.source,
            "sender": item.sender,
            "subject": item.subject,
            "date": _iso(item.date),
            "run_id": self.ctx.run.id,
            "status": status,
            "filed_at": self.now.isoformat(),
            "reason": reason,
            "retain_until": self.retain_until,
        }
        self.documents.append((entry["name"], row, text if self.params.index_text else None))
