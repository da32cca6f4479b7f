"""Reading the content calendar: front matter, errors with file:line:column, time zones."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from avflow_social.calendar import CalendarError, local_to_utc, read_calendar, read_post

ROME = ZoneInfo("Europe/Rome")


def post(tmp_path: Path, text: str, name: str = "p.md") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_post_is_read(tmp_path: Path) -> None:
    path = post(
        tmp_path,
        "---\npublish: 2026-03-16 09:30\nchannels: [news, blog]\nstatus: approved\n"
        "title: Spring menu\nslug: spring-menu\ntags: [menu]\nchannel_text:\n  news: Short one\n"
        "media:\n  - {file: a.jpg, alt: A croissant}\n---\n# Spring\n\nNew **menu**.\n",
    )
    p = read_post(path, tmp_path, ROME)
    assert p.id == "p" and p.channels == ["news", "blog"] and p.status == "approved"
    assert p.publish_at == datetime(2026, 3, 16, 8, 30, tzinfo=UTC)
    assert p.text_for("news") == "Short one" and p.text_for("blog").startswith("# Spring")
    assert p.media[0].alt == "A croissant" and p.body.endswith("New **menu**.")


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("---\npublish: 2026-03-16 09:30\nchannels: [news\n---\n", "p.md:4:1", "front matter"),
        (
            "---\npublish: 2026-03-16 09:30\nchannels: [news]\ncolour: red\n---\n",
            "p.md:4:1",
            "unknown key 'colour'",
        ),
        ("---\nchannels: [news]\n---\n", "p.md:2:1", "publish: is required"),
        ("---\npublish: tomorrow\nchannels: [news]\n---\n", "p.md:2:1", "not a date"),
        ("---\npublish: 99999\nchannels: [news]\n---\n", "p.md:2:1", "not a number"),
        ("---\npublish: 0001-01-01 00:00\nchannels: [news]\n---\n", "p.md:2:1", "out of range"),
        (
            "---\npublish: 0001-01-01T00:00+05:00\nchannels: [news]\n---\n",
            "p.md:2:1",
            "out of range",
        ),
        (
            "---\npublish: 2026-03-16 09:30\nchannels: [news]\nstatus: ok\n---\n",
            "p.md:4:1",
            "status",
        ),
        (
            "---\npublish: 2026-03-16 09:30\nchannels: [news]\nmedia:\n  - file: a.jpg\n    alts: x\n---\n",
            "p.md:6:5",
            "unknown key 'alts'",
        ),
        (
            "---\npublish: 2026-03-16 09:30\nchannels: [news]\nchannels: [blog]\n---\n",
            "p.md:4:1",
            "duplicate key 'channels'",
        ),
        (
            "---\npublish: 2026-03-16 09:30\nchannels: [news]\ntitle: !!python/name:os.system\n---\n",
            "p.md:4:8",
            "unsupported YAML tag",
        ),
        ("publish: 2026-03-16\n", "p.md:1:1", "starts with a line '---'"),
        ("---\npublish: 2026-03-16 09:30\n", "p.md:1:1", "no closing"),
    ],
)
def test_errors_name_file_line_column(tmp_path: Path, text: str, where: str, message: str) -> None:
    path = post(tmp_path, text)
    with pytest.raises(CalendarError) as info:
        read_post(path, tmp_path, ROME)
    line = str(info.value)
    assert line.startswith(str(tmp_path / where) + ":"), line
    assert message in line and "\n" not in line


def test_not_utf8_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "bad.md").write_bytes(b"---\npublish: 2026-03-16 09:30\ntext: caf\xe9\n---\n")
    posts, errors = read_calendar(tmp_path, ROME)
    assert posts == [] and "not UTF-8" in str(errors[0]) and ":3:" not in str(errors[0])


def test_links_leading_out_are_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.md"
    outside.write_text("---\npublish: 2026-03-16 09:30\nchannels: [news]\n---\n")
    cal = tmp_path / "cal"
    cal.mkdir()
    (cal / "linked.md").symlink_to(outside)
    assert read_calendar(cal, ROME) == ([], [])


def test_two_posts_with_one_id_is_an_error(tmp_path: Path) -> None:
    for name in ("a.md", "b.md"):
        post(tmp_path, "---\nid: same\npublish: 2026-03-16 09:30\nchannels: [news]\n---\n", name)
    posts, errors = read_calendar(tmp_path, ROME)
    assert [p.id for p in posts] == ["same"] and "also used by a.md" in str(errors[0])


def test_dst_gap_goes_to_the_first_instant_after_it() -> None:
    # 29 March 2026, Rome: 02:00 -> 03:00. A post written for 02:30 goes out at 03:00 CEST.
    assert local_to_utc(datetime(2026, 3, 29, 2, 30), ROME) == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC
    )
    assert local_to_utc(datetime(2026, 3, 29, 9, 0), ROME) == datetime(
        2026, 3, 29, 7, 0, tzinfo=UTC
    )
    assert local_to_utc(datetime(2026, 3, 28, 9, 0), ROME) == datetime(
        2026, 3, 28, 8, 0, tzinfo=UTC
    )


def test_repeated_hour_is_its_first_occurrence() -> None:
    # 25 October 2026, Rome: 03:00 CEST -> 02:00 CET; 02:30 happens twice.
    assert local_to_utc(datetime(2026, 10, 25, 2, 30), ROME) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )


def test_content_hash_ignores_status_only(tmp_path: Path) -> None:
    a = read_post(
        post(tmp_path, "---\npublish: 2026-03-16 09:30\nchannels: [n]\nstatus: draft\n---\nHi\n"),
        tmp_path,
        ROME,
    )
    b = read_post(
        post(
            tmp_path, "---\npublish: 2026-03-16 09:30\nchannels: [n]\nstatus: approved\n---\nHi\n"
        ),
        tmp_path,
        ROME,
    )
    c = read_post(
        post(
            tmp_path, "---\npublish: 2026-03-16 09:30\nchannels: [n]\nstatus: approved\n---\nHi!\n"
        ),
        tmp_path,
        ROME,
    )
    assert a.digest == b.digest != c.digest
