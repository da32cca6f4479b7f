"""The action ``social.publish``: every due, approved post goes out once on each channel."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import avflow
from avflow_social.approval import gate
from avflow_social.calendar import Post, read_calendar
from avflow_social.checks import Channel, approval_state, media_files, post_problems, quiet_until
from avflow_social.hours import next_open
from avflow_social.params import PublishParams
from avflow_social.provider import (
    AuthExpired,
    MediaFile,
    Outgoing,
    Provider,
    ProviderError,
    RateLimited,
    Target,
)
from avflow_social.store import Store

UTC = UTC
MAX_WAIT = timedelta(hours=24)  # the longest a network's 429 keeps a channel waiting


def rate_wait(seconds: float) -> timedelta:
    """How long a 429 defers the channel: the network's wait, from a second to `MAX_WAIT` (an
    infinite, huge or far-future Retry-After blocked the channel for years, or ended the pass
    in an OverflowError)."""
    if math.isnan(seconds):
        seconds = 60.0
    if not math.isfinite(seconds) or seconds > MAX_WAIT.total_seconds():
        return MAX_WAIT
    return timedelta(seconds=max(1.0, seconds))


# A failure the network certainly did not act on: the ledger may try it again freely.
_Failed: Any = getattr(avflow, "EffectFailed", avflow.StepFailed)


class NotPublished(_Failed):
    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class Pass:
    """One publishing pass: what went out, what waits and why, what failed."""

    ctx: Any
    store: Store
    channels: dict[str, Channel]
    now: datetime
    published: list[dict[str, Any]] = field(default_factory=list)
    deferred: list[dict[str, Any]] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    blocked: dict[str, datetime] = field(default_factory=dict)  # channel -> not before
    backoff: dict[str, str | None] = field(default_factory=dict)  # channel -> stored backoff
    refused: dict[str, str] = field(default_factory=dict)  # channel -> credentials refused
    closed_until: datetime | None = None  # outside working hours: the next opening
    done: dict[tuple[str, str, int], Any] = field(default_factory=dict)
    jobs: list[tuple[Post, Channel]] = field(default_factory=list)  # to publish, in order
    batch: Any = None  # the ledger batch the jobs' effects go through
    caches: dict[str, dict[str, Any]] = field(default_factory=dict)  # channel -> Target.cache
    media: dict[str, list[MediaFile]] = field(default_factory=dict)  # post -> its media, checked
    resolved: dict[str, tuple[str, int]] = field(default_factory=dict)  # for `media_files`
    data_dir: Path = Path()


def calendar_folder(client: avflow.ClientInfo, name: str) -> Path:
    """The content calendar, through avflow's confinement (the client's folder and its roots)."""
    folder = avflow.confine(client, name)  # PathRefused (a StepFailed) names what is wrong
    if not folder.is_dir():
        raise avflow.StepFailed(f"no content calendar folder {folder}")
    return folder


def resolve_channels(
    ctx: Any, names: set[str], providers: dict[str, Provider]
) -> dict[str, Channel]:
    out: dict[str, Channel] = {}
    for name in sorted(names):
        try:
            account = ctx.account(name)
        except avflow.AvflowError:
            continue  # reported as an unknown channel by the checks
        provider = providers.get(account.type)
        if provider is not None:
            out[name] = Channel(name, provider, account.settings)
    return out


def publish(ctx: Any, params: PublishParams, providers: dict[str, Provider]) -> dict[str, Any]:
    folder = calendar_folder(ctx.client, params.calendar)
    posts, errors = read_calendar(folder, ctx.client.tz)
    wanted = set(params.channels) if params.channels is not None else None
    names = {c for p in posts for c in p.channels if wanted is None or c in wanted}
    store = Store(ctx.data_dir)
    try:
        run = Pass(ctx, store, resolve_channels(ctx, names, providers), ctx.now())
        run.done, run.data_dir = store.published(ctx.client.id), ctx.data_dir
        if params.when == "working_hours":
            run.closed_until = next_open(ctx.client, run.now)
        approvals = store.approvals(ctx.client.id)
        if not ctx.dry_run:  # an approval in the front matter is recorded the first time it is seen
            new = [
                (p.id, p.digest) for p in posts if p.status == "approved" and p.id not in approvals
            ]
            store.approve_many(ctx.client.id, new, run.now, "front matter")
            approvals.update(new)
        for post in posts:
            _post(run, post, folder, approvals, wanted)
        if params.approval is not None and run.jobs:  # a person confirms the pass's posts
            gate(run, params.approval)
        plan = [(_key(p, ch), _description(p, ch)) for p, ch in run.jobs]
        # One durable commit for many posts' intents (the ledger's batch): see docs/social.md.
        try:
            with ctx.effect_batch(plan, kind="social.publish", scope="client") as run.batch:
                for post, ch in run.jobs:
                    _channel(run, post, ch, folder)
        finally:
            _notes(ctx, [p for p in run.published if "url" in p])
    finally:
        store.close()
    failures = [str(e) for e in errors] + run.failed
    if failures:
        raise avflow.StepFailed("; ".join(failures))
    return {"published": run.published, "deferred": run.deferred, "held": run.held}


def _post(
    run: Pass, post: Post, folder: Path, approvals: dict[str, str], wanted: set[str] | None
) -> None:
    due = post.publish_at <= run.now
    ahead = set() if due else {n for n in post.channels if _schedules(run.channels.get(n))}
    if not due and not ahead:
        return
    state = approval_state(post, approvals)
    if state != "approved":
        reason = "not approved" if state == "draft" else "edited after approval"
        run.held.append({"post": post.id, "reason": reason})
        return
    media = media_files(post, folder, run.resolved)
    run.media[post.id] = media[0]
    problems = post_problems(post, run.channels, folder, approvals, run.now, timedelta(0), media)
    errors = [p for p in problems if p.severity == "error"]
    if any(p.channel is None for p in errors):
        run.failed.extend(f"{post.rel}: {p.message}" for p in errors if p.channel is None)
        return
    for name in post.channels:
        if (wanted is not None and name not in wanted) or (not due and name not in ahead):
            continue
        bad = [p.message for p in errors if p.channel == name]
        if bad:
            run.failed.extend(f"{post.rel} on {name}: {m}" for m in bad)
            continue
        if (post.id, name, post.revision) in run.done:
            continue
        if not _deferred(run, post, run.channels[name]):
            run.jobs.append((post, run.channels[name]))


def _notes(ctx: Any, published: list[dict[str, Any]]) -> None:
    """The permalinks in the client's audit trail: one record per 20 posts of the pass (each
    post's ledger effect has its own records already)."""
    for i in range(0, len(published), 20):
        part = published[i : i + 20]
        lines = "; ".join(f"{p['post']} on {p['channel']}: {p['url']}" for p in part)
        ctx.note(
            f"published {lines}",
            published=[{k: p[k] for k in ("post", "channel", "url")} for p in part],
        )


def _key(post: Post, ch: Channel) -> str:
    return f"{post.id}:{ch.name}:r{post.revision}"


def _description(post: Post, ch: Channel) -> str:
    return f"publish {post.id} on {ch.name} ({ch.provider.name})"


def _deferred(run: Pass, post: Post, ch: Channel) -> bool:
    """Whether the channel waits (working hours, quiet window, limits): noted in the outputs."""
    wait = _not_before(run, ch)
    if wait is not None:
        run.deferred.append(
            {"post": post.id, "channel": ch.name, "reason": wait[1], "until": wait[0].isoformat()}
        )
    return wait is not None


def _schedules(ch: Channel | None) -> bool:
    """A channel that takes approved posts ahead and publishes them itself at their time."""
    return ch is not None and getattr(ch.settings, "mode", "publish") == "schedule"


def _not_before(run: Pass, ch: Channel) -> tuple[datetime, str] | None:
    ctx, tz = run.ctx, run.ctx.client.tz
    if run.closed_until is not None:
        return run.closed_until, "outside working hours"
    if ch.name in run.blocked:
        return run.blocked[ch.name], "rate limited"
    if ch.name not in run.backoff:  # read once per pass
        run.backoff[ch.name] = ctx.cursor.get(f"backoff:{ch.name}")
    until = run.backoff[ch.name]
    # a wait stored further ahead than MAX_WAIT was kept before the cap: not honoured
    if until and run.now < datetime.fromisoformat(until) <= run.now + MAX_WAIT:
        return datetime.fromisoformat(until), "rate limited"
    local = run.now.astimezone(tz)
    quiet = quiet_until(ch.settings, local)
    if quiet is not None:
        return quiet.replace(tzinfo=tz).astimezone(UTC), "quiet window"
    limit = getattr(ch.settings, "daily_limit", None) or ch.provider.daily_limit
    if limit:
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if run.store.count_since(ctx.client.id, ch.name, midnight.astimezone(UTC)) >= limit:
            return (midnight + timedelta(days=1)).astimezone(UTC), f"daily limit {limit}"
    return None


def outgoing(
    post: Post, ch: Channel, folder: Path, now: datetime, media: list[MediaFile] | None = None
) -> Outgoing:
    if media is None:
        media, _ = media_files(post, folder)
    return Outgoing(
        key=_key(post, ch),
        post=post.id,
        channel=ch.name,
        text=ch.provider.compose(post.text_for(ch.name), post.link),
        publish_at=post.publish_at,
        body=post.body,
        link=post.link,
        title=post.title,
        slug=post.slug,
        tags=tuple(post.tags),
        excerpt=post.excerpt,
        media=tuple(media),
        schedule=post.publish_at > now,
    )


def _channel(run: Pass, post: Post, ch: Channel, folder: Path) -> None:
    ctx = run.ctx
    if ch.name in run.refused:  # not asked again in this pass with refused credentials
        run.failed.append(f"{post.rel} on {ch.name}: {run.refused[ch.name]}")
        return
    if _deferred(run, post, ch):  # a 429 or a daily limit met during this pass
        return
    out = outgoing(post, ch, folder, run.now, run.media.get(post.id))
    cache = run.caches.setdefault(ch.name, {})
    target = Target(ch.name, ch.settings, ctx.client, run.data_dir, ctx.log, cache)
    try:
        result = _effect(run.batch, ctx, run.store, ch.provider, target, out)
    except NotPublished as exc:
        if isinstance(exc.error, RateLimited):
            until = run.now + rate_wait(exc.error.retry_after)
            run.blocked[ch.name] = until
            ctx.cursor.set(f"backoff:{ch.name}", until.isoformat())
            run.deferred.append(
                {
                    "post": post.id,
                    "channel": ch.name,
                    "reason": "rate limited",
                    "until": until.isoformat(),
                }
            )
            return
        if isinstance(exc.error, AuthExpired):
            run.refused[ch.name] = str(exc)
        run.failed.append(f"{post.rel} on {ch.name}: {exc}")
        return
    except avflow.AvflowError as exc:
        run.failed.append(f"{post.rel} on {ch.name}: {exc}")
        return
    if result is None:  # a dry run
        run.published.append({"post": post.id, "channel": ch.name, "dry_run": True})
        return
    run.store.record(
        ctx.client.id, post.id, ch.name, post.revision, result["id"], result["url"], run.now
    )
    run.published.append({"post": post.id, "channel": ch.name, **result})


def _effect(
    batch: Any, ctx: Any, store: Store, provider: Provider, target: Target, out: Outgoing
) -> Any:
    client = ctx.client.id

    def perform() -> dict[str, str]:
        if store.refused(client, out.key):  # stale: this attempt's outcome is its own
            store.set_refused(client, out.key, False)
        try:
            return provider.publish(target, out).as_dict()
        except ProviderError as exc:
            if exc.sent is False:
                store.set_refused(client, out.key, True)
                raise NotPublished(exc) from None
            raise

    def reconcile() -> dict[str, str] | None:
        if store.refused(client, out.key):  # the last attempt was certainly refused
            store.set_refused(client, out.key, False)
            return None
        if not provider.can_lookup(target):
            raise avflow.EffectUnknown(
                f"{out.post} on {out.channel}: the last attempt's outcome is unknown and "
                f"{provider.name} cannot be asked; check the channel, then settle it"
            )
        found = provider.lookup(target, out)
        return None if found is None else found.as_dict()

    description = f"publish {out.post} on {out.channel} ({provider.name})"  # as _description
    kwargs = dict(kind="social.publish", reconcile=reconcile, scope="client")
    try:
        return batch.effect(out.key, description, perform, **kwargs)
    except (NotPublished, avflow.AvflowError):
        raise
    except Exception as exc:  # outcome unknown (a timeout after sending): look it up now
        ctx.log.warning("outcome unknown; looking the post up", effect=out.key, error=str(exc))
        if not provider.can_lookup(target):
            raise avflow.StepFailed(f"outcome unknown ({type(exc).__name__}: {exc})") from None
        return batch.effect(out.key, description, perform, **kwargs)
