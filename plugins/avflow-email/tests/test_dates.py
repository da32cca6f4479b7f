"""The fast Date-header reader gives what email.utils gives, for the usual form and the rest."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime

import pytest
from avflow_email.message import Mail, parse_date


def _reference(raw: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "raw",
    [
        "Thu, 01 Jan 2026 00:00:00 -0000",
        "1 Feb 2026 10:00:00 +0100",
        "  Mon, 3 MAR 2026 10:00:00 -0530  ",
        "Mon, 31 Feb 2026 10:00:00 +0100",  # no such day: the general parser decides
        "Mon, 3 Mar 2026 24:00:00 +0100",
        "Mon, 3 Mar 2026 10:00 +0100",  # no seconds
        "Mon, 3 Mar 26 10:00:00 +0100",  # two-digit year
        "Mon, 3 Mar 2026 10:00:00 GMT",
        "Mon, 3 Mar 2026 10:00:00 +0000 (UTC)",
        "Mon, 3 Xyz 2026 10:00:00 +0100",
        "not a date",
    ],
)
def test_parse_date_matches_email_utils(raw: str) -> None:
    ours, theirs = parse_date(raw), _reference(raw)
    assert ours == theirs
    assert (ours.isoformat() if ours else None) == (theirs.isoformat() if theirs else None)


def test_parse_date_on_many_generated_dates() -> None:
    rnd = random.Random(7)
    for _ in range(3000):
        ts = rnd.randint(0, 2**31)
        for raw in (formatdate(ts, localtime=rnd.random() < 0.5), formatdate(ts, usegmt=True)):
            ours = parse_date(raw)
            assert ours is not None and ours == _reference(raw), raw
            assert ours.isoformat() == _reference(raw).isoformat()  # type: ignore[union-attr]


def test_a_bad_date_header_falls_back_to_the_internal_date() -> None:
    arrived = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    mail = Mail(1, {"date": ["sometime last week"]}, internal_date=arrived)
    assert mail.date == arrived
    assert mail.summary()["date"] == "2026-03-01T09:30:00+00:00"
