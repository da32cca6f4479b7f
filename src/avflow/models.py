"""Typed models of the files a user writes: the client profile and workflows.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import calendar
import functools
import re
from datetime import date, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

IDENT = r"^[A-Za-z_][A-Za-z0-9_-]*$"
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


MAX_DURATION = 3650 * 86400.0  # ten years: a sleep or a timer longer than that overflows


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string like ``90``, ``30s``, ``5m``, ``2h``, ``1d``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 5m, 2h")
    seconds = None
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        seconds = float(value)
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", value)
        if m:
            unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2) or "s"]
            seconds = float(m.group(1)) * unit
    if seconds is None or seconds != seconds:  # NaN
        raise ValueError(f"{value!r} is not a duration like 30s, 5m, 2h")
    if seconds > MAX_DURATION:
        raise ValueError(f"{value!r} is longer than ten years (3650d)")
    return seconds


Duration = Annotated[float, Field(ge=0)]


def _day_set(spec: str) -> set[int]:
    days: set[int] = set()
    for part in spec.lower().replace(" ", "").split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            if a not in DAYS or b not in DAYS:
                raise ValueError(f"unknown day in {spec!r} (use mon..sun)")
            i, j = DAYS.index(a), DAYS.index(b)
            days.update(DAYS.index(d) % 7 for d in (DAYS * 2)[i : (j if j >= i else j + 7) + 1])
        elif part in DAYS:
            days.add(DAYS.index(part))
        else:
            raise ValueError(f"unknown day {part!r} in {spec!r} (use mon..sun, mon-fri)")
    return days


def _intervals(spec: str) -> list[tuple[time, time]]:
    out = []
    for part in spec.replace(" ", "").split(","):
        m = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", part)
        if not m:
            raise ValueError(f"{part!r} is not a time range like 09:00-13:00")
        h1, m1, h2, m2 = map(int, m.groups())
        if h2 == 24 and m2 == 0:
            h2, m2 = 23, 59
        try:
            start, end = time(h1, m1), time(h2, m2)
        except ValueError:
            raise ValueError(f"{part!r} is not a valid time range") from None
        if end <= start:
            raise ValueError(f"{part!r} ends before it starts")
        out.append((start, end))
    return out


def parse_working_hours(raw: dict[str, str]) -> dict[int, list[tuple[time, time]]]:
    """``{"mon-fri": "09:00-13:00,14:00-18:00"}`` -> weekday (0=Monday) -> intervals."""
    table: dict[int, list[tuple[time, time]]] = {}
    for days, hours in raw.items():
        ranges = (
            [] if str(hours).strip().lower() in ("", "closed", "off") else _intervals(str(hours))
        )
        for d in _day_set(days):
            table[d] = ranges
    return table


MonthDay = tuple[int, int]
_MONTH_DAY = re.compile(r"\d{2}-\d{2}")


def _month_day(text: str) -> MonthDay:
    month, day = (int(x) for x in text.split("-"))
    date(2000, month, day)  # a leap year: 02-29 is a date that comes back every four years
    return month, day


def parse_yearly(spec: str) -> tuple[MonthDay, MonthDay] | None:
    """``12-24`` or ``12-24/12-31`` (every year; ``12-24/01-06`` runs into the next year) ->
    (first, last) as (month, day) pairs; None if ``spec`` is not a yearly spec."""
    parts = [x.strip() for x in spec.split("/", 1)]
    if not all(_MONTH_DAY.fullmatch(x) for x in parts):
        return None
    try:
        first = _month_day(parts[0])
        return first, _month_day(parts[-1])
    except ValueError:
        raise ValueError(f"{spec!r} is not a day of the year (MM-DD)") from None


def closed_every_year(yearly: tuple[MonthDay, MonthDay], day: date) -> bool:
    """Whether ``day`` falls in a yearly closed range (wrapping past 31 December)."""
    first, last = yearly
    md = (day.month, day.day)
    return first <= md <= last if first <= last else (md >= first or md <= last)


def parse_closed(spec: str) -> tuple[date, date]:
    """``2026-12-24`` or ``2026-12-24/2027-01-06`` -> inclusive date range."""
    try:
        if "/" in spec:
            a, b = spec.split("/", 1)
            start, end = date.fromisoformat(a.strip()), date.fromisoformat(b.strip())
        else:
            start = end = date.fromisoformat(spec.strip())
    except ValueError:
        raise ValueError(
            f"{spec!r} is not a date (YYYY-MM-DD), a range (YYYY-MM-DD/YYYY-MM-DD), or a day "
            "or range of days every year (MM-DD, MM-DD/MM-DD)"
        ) from None
    if end < start:
        raise ValueError(f"{spec!r} ends before it starts")
    return start, end


def _in_year(year: int, md: MonthDay, leap_day: MonthDay) -> date:
    if md == (2, 29) and not calendar.isleap(year):
        md = leap_day
    return date(year, *md)


def closed_ranges(specs: list[str], years: range) -> tuple[tuple[date, date], ...]:
    """Every closed spec as inclusive date ranges; yearly ones once per year of ``years``."""
    out: list[tuple[date, date]] = []
    for spec in specs:
        yearly = parse_yearly(spec)
        if yearly is None:
            out.append(parse_closed(spec))
            continue
        first, last = yearly
        for year in years:
            start = _in_year(year, first, leap_day=(3, 1))
            end = _in_year(year + (last < first), last, leap_day=(2, 28))
            if start <= end:  # a lone 02-29 outside a leap year is no day at all
                out.append((start, end))
    return tuple(out)


class Holidays(Strict):
    country: str
    subdiv: str | None = None


class AuditSettings(Strict):
    """How much of a message the audit trail keeps (see docs/audit.md)."""

    personal_data: Literal["full", "masked"] = "full"
    retention_years: int = Field(default=2, ge=2)
    checkpoint_every: int = Field(default=1000, ge=1)


class Notify(Strict):
    """Where failure notifications go (see docs/operations.md)."""

    email: str | None = None


def _check_days(v: str) -> str:
    _day_set(v)
    return v


def _check_hours(v: str) -> str:
    if v.strip().lower() not in ("", "closed", "off"):
        _intervals(v)
    return v


def _check_closed(v: str) -> str:
    if parse_yearly(v) is None:
        parse_closed(v)
    return v


DaySpec = Annotated[str, AfterValidator(_check_days)]
HoursSpec = Annotated[str, AfterValidator(_check_hours)]
ClosedSpec = Annotated[str, AfterValidator(_check_closed)]


# Empty defaults come from lambdas, not `list`/`dict`: pydantic reads a factory's signature, and a
# built-in's is parsed from text (docs/plugins.md, "Keeping the plugin cheap to load").
class ClientProfile(Strict):
    name: str
    timezone: str = "UTC"
    working_hours: dict[DaySpec, HoursSpec] = Field(
        default_factory=lambda: {"mon-fri": "09:00-18:00"}
    )
    holidays: str | Holidays | None = None
    closed: list[ClosedSpec] = Field(default_factory=lambda: [])
    language: Literal["en", "it"] = "en"  # of the client report and notifications
    accounts: dict[str, dict[str, Any]] = Field(default_factory=lambda: {})
    roots: list[str] = Field(default_factory=lambda: [])  # folders outside its own it may use
    audit: AuditSettings = Field(default_factory=AuditSettings)
    notify: Notify | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {v!r} (use an IANA name like Europe/Rome)"
            ) from None
        return v

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, v: str | Holidays | None) -> str | Holidays | None:
        from avflow.errors import ValueErrorAt
        from avflow.holidaycal import problem

        if v is None:
            return v
        country, subdiv = (v, None) if isinstance(v, str) else (v.country, v.subdiv)
        if isinstance(v, str) and "-" in v:
            country, subdiv = v.split("-", 1)
        why = problem(country, subdiv)
        if why is not None:  # the mapping form points at the key that is wrong
            part, message = why
            raise ValueErrorAt(message, () if isinstance(v, str) else (part,))
        return v

    @field_validator("accounts")
    @classmethod
    def _accounts(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, acc in v.items():
            if not re.match(IDENT, name):
                raise ValueError(f"account name {name!r} must be letters, digits, _ or -")
            if not isinstance(acc, dict) or "type" not in acc:
                raise ValueError(f"account {name!r} needs a 'type'")
        return v


@functools.lru_cache(maxsize=4096)
def _valid_cron(expr: str) -> bool:
    # croniter.is_valid costs ~0.1 ms; thousands of workflows share a few hundred expressions
    return len(expr.split()) == 5 and bool(croniter.is_valid(expr))


class Schedule(Strict):
    cron: str

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        if not _valid_cron(v):
            raise ValueError(
                f"invalid cron expression {v!r} (five fields: min hour day month weekday)"
            )
        return v


class EventTrigger(Strict):
    uses: str
    with_: dict[str, Any] = Field(default_factory=lambda: {}, alias="with")


class On(Strict):
    schedule: list[Schedule] = Field(default_factory=lambda: [])
    events: list[EventTrigger] = Field(default_factory=lambda: [])
    when: Literal["always", "working_hours"] = "always"
    catch_up: Literal["latest", "all", "none"] = "latest"
    grace: Duration = 86400.0
    max_catch_up: int = Field(default=100, ge=1)

    @field_validator("grace", mode="before")
    @classmethod
    def _grace(cls, v: Any) -> float:
        return parse_duration(v)

    @field_validator("schedule", mode="before")
    @classmethod
    def _one_schedule(cls, v: Any) -> Any:
        return [v] if isinstance(v, dict) else v


class Retry(Strict):
    attempts: int = Field(default=1, ge=1, le=100)
    backoff: Duration = 1.0
    factor: float = Field(default=2.0, ge=1.0)
    max_backoff: Duration = 300.0

    @field_validator("backoff", "max_backoff", mode="before")
    @classmethod
    def _d(cls, v: Any) -> float:
        return parse_duration(v)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.max_backoff, self.backoff * self.factor ** (attempt - 1)))


class Step(Strict):
    id: str | None = Field(default=None, pattern=IDENT)
    uses: str = Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
    with_: dict[str, Any] = Field(default_factory=lambda: {}, alias="with")
    if_: str | None = Field(default=None, alias="if")
    retry: Retry = Field(default_factory=Retry)
    timeout: Duration | None = None
    continue_on_error: bool = False
    name: str | None = None

    @field_validator("timeout", mode="before")
    @classmethod
    def _t(cls, v: Any) -> float | None:
        return None if v is None else parse_duration(v)

    @field_validator("retry", mode="before")
    @classmethod
    def _r(cls, v: Any) -> Any:
        return {"attempts": v} if isinstance(v, int) and not isinstance(v, bool) else v


class Workflow(Strict):
    name: str | None = None
    description: str | None = None
    enabled: bool = True
    on: On = Field(default_factory=On)
    steps: list[Step] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        # "inbox " and "inbox" would be two names the AV reads as one (`avflow runs`, reports)
        if v is not None and v != v.strip():
            raise ValueError(
                f"{v!r} begins or ends with a space: write {v.strip()!r}"
                if v.strip()
                else f"{v!r} is only spaces: write a name, or leave 'name:' out"
            )
        return v

    @model_validator(mode="after")
    def _ids(self) -> Workflow:
        for i, step in enumerate(self.steps):
            if step.id is None:
                step.id = f"step{i + 1}"
        return self
