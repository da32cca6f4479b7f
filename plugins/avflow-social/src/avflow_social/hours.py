"""The client's working time (from its profile, as avflow's public API reads it): whether a post
may go out now, and if not, when the client next opens (`avflow.next_working_time`: the same
working hours, public holidays and closed dates as the scheduler's gating)."""

from __future__ import annotations

from datetime import UTC, datetime

import avflow


def next_open(client: avflow.ClientInfo, now: datetime) -> datetime | None:
    """None when the client is open at ``now``; otherwise the next instant it opens (UTC).
    A client whose profile has no working hours is always open, and so is one never open in
    the next three years (posts are not held back forever)."""
    opens = avflow.next_working_time(client, now)
    return None if opens is None or opens <= now.astimezone(UTC) else opens
