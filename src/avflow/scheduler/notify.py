"""The built-in failure notifier, on the ``run_finished`` hook.

Every failed run is logged. When ``notify.email`` is set in ``service.yaml``, the first failure of
a workflow after a success (a new *failure burst*) is e-mailed; further failures of the same
workflow are not, until it succeeds again (or, if ``repeat`` is set, until that long has passed).
Failures that start within ``batch`` seconds of each other go out in one message. Step retries
happen inside a run, so they never produce a message of their own. Whether a workflow is
failing survives a restart (``notify_state`` in ``state.db``).
"""

from __future__ import annotations

import smtplib
import ssl
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import structlog

from avflow.api import RunInfo
from avflow.clock import Clock
from avflow.pluginmarker import hookimpl
from avflow.scheduler.settings import EmailNotify
from avflow.scheduler.store import ScheduleStore, parse_iso

log = structlog.get_logger("avflow.notify")


class FailureNotifier:
    """Registered on the plugin manager by the service; sends mail from a thread of its own."""

    def __init__(
        self,
        store: ScheduleStore,
        email: EmailNotify | None,
        clock: Clock,
        recipients: Callable[[str], list[str]] | None = None,
    ) -> None:
        self.store = store
        self.email = email
        self.clock = clock
        self._recipients = recipients or (lambda client: [])
        self._cond = threading.Condition()
        self._pending: list[dict[str, Any]] = []
        self._closing = False
        self.sent: list[EmailMessage] = []
        self._thread: threading.Thread | None = None
        if email is not None:
            self._thread = threading.Thread(target=self._sender, name="notifier", daemon=True)
            self._thread.start()

    @hookimpl
    def run_finished(self, run: RunInfo, status: str, error: str | None) -> None:
        if run.dry_run:
            return
        if status == "succeeded":
            if self.store.clear_failing(run.client, run.workflow):
                log.info("workflow recovered", client=run.client, workflow=run.workflow, run=run.id)
            return
        if status != "failed":
            return
        log.error(
            "workflow failed", client=run.client, workflow=run.workflow, run=run.id, error=error
        )
        now = self.clock.now()
        row = self.store.failing(run.client, run.workflow)
        self.store.mark_failing(run.client, run.workflow, now)
        if self.email is None:
            return
        notified = parse_iso(row["notified_at"]) if row is not None else None
        if row is not None and (
            notified is None
            or not self.email.repeat
            or now - notified < timedelta(seconds=self.email.repeat)
        ):
            return  # the same burst: already reported (or about to be)
        with self._cond:
            self._pending.append(
                {
                    "client": run.client,
                    "workflow": run.workflow,
                    "run": run.id,
                    "error": error,
                    "scheduled_at": run.scheduled_at,
                    "at": now,
                    "failures": 1 if row is None else row["failures"] + 1,
                }
            )
            self._cond.notify_all()

    # -- sending ----------------------------------------------------------------------------------
    def _sender(self) -> None:
        assert self.email is not None
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closing)
                if not self._pending and self._closing:
                    return
                if not self._closing:  # let a burst gather, unless we are shutting down
                    self._cond.wait_for(lambda: self._closing, timeout=self.email.batch)
                batch, self._pending = self._pending, []
            self._send(batch)

    def _send(self, batch: list[dict[str, Any]]) -> None:
        assert self.email is not None
        by_rcpt: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for item in batch:
            rcpt = tuple(self._recipients(item["client"]) or self.email.to)
            by_rcpt.setdefault(rcpt, []).append(item)
        for rcpt, items in by_rcpt.items():
            if not rcpt:
                log.warning(
                    "failure not e-mailed: no recipient (notify.email.to)",
                    client=items[0]["client"],
                )
                continue
            msg = compose(self.email.from_, list(rcpt), items)
            try:
                deliver(self.email, msg)
            except (OSError, smtplib.SMTPException) as exc:
                log.error("failure e-mail not sent", error=str(exc), to=list(rcpt))
                continue
            self.sent.append(msg)
            self.store.mark_notified(
                {(i["client"], i["workflow"]) for i in items}, self.clock.now()
            )
            log.info(
                "failure e-mail sent",
                to=list(rcpt),
                workflows=[f"{i['client']}/{i['workflow']}" for i in items],
            )

    def close(self, timeout: float = 30.0) -> None:
        """Send what is pending now and stop the sender thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)


def compose(sender: str, to: list[str], items: list[dict[str, Any]]) -> EmailMessage:
    msg = EmailMessage()
    names = sorted({f"{i['client']}/{i['workflow']}" for i in items})
    msg["Subject"] = (
        f"avflow: {len(names)} workflow{'s' if len(names) > 1 else ''} failing: {', '.join(names)[:150]}"
    )
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    lines = [
        "These workflows failed. No further message is sent for them until they succeed again.",
        "",
    ]
    for i in items:
        when = i["scheduled_at"] or i["at"]
        when_s = when.isoformat() if isinstance(when, datetime) else str(when)
        lines += [
            f"{i['client']}/{i['workflow']}",
            f"  run: {i['run']}  ({when_s})",
            f"  error: {i['error']}",
            "",
        ]
    lines.append("See `avflow status` and `avflow runs CLIENT/WORKFLOW` for details.")
    msg.set_content("\n".join(lines))
    return msg


def deliver(cfg: EmailNotify, msg: EmailMessage) -> None:
    smtp = cfg.smtp
    cls = smtplib.SMTP_SSL if smtp.security == "ssl" else smtplib.SMTP
    kwargs: dict[str, Any] = {"timeout": smtp.timeout}
    if smtp.security == "ssl":
        kwargs["context"] = ssl.create_default_context()
    with cls(smtp.host, smtp.port, **kwargs) as client:
        if smtp.security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if smtp.username:
            client.login(smtp.username, smtp.resolved_password() or "")
        client.send_message(msg)
