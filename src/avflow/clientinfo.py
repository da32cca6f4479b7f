"""`avflow.ClientInfo`: the client a step runs for (re-exported by `avflow.api` and ``avflow``).

A module of its own so that `avflow.api` (what plugins register) and `avflow.runtypes` (what
their code is handed while it runs) both use it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from avflow.paths import Confinement


@dataclass(frozen=True)
class ClientInfo:
    """The client a step runs for."""

    id: str
    name: str
    timezone: str
    tz: tzinfo
    folder: Path | None = None  # workflows/<client>/: resolve relative paths in settings against it
    # The profile's working time, parsed: weekday (0 = Monday) -> [(start, end)] on the client's
    # wall clock (an end of 23:59 means the end of the day); public holidays as (country,
    # subdivision) for the `holidays` package; closed dates as inclusive (first, last) ranges
    # (dates that come back every year, ``12-24/12-31``, from last year to ten years ahead).
    working_hours: Mapping[int, tuple[tuple[time, time], ...]] = field(default_factory=dict)
    holidays: tuple[str, str | None] | None = None
    closed: tuple[tuple[date, date], ...] = ()
    # What local paths the client may use: resolve every path through `avflow.confine` or
    # `avflow.open_confined`, never by hand (see docs/security.md).
    paths: Confinement | None = field(default=None, repr=False, compare=False)
    language: str = "en"  # the client's language (``language:`` in client.yaml): en, it
