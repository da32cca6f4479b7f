"""The monthly activity report an AV hands to a client: one self-contained HTML file.

For a month of the client's local calendar: a summary per workflow (runs that finished, split in
successes and failures, runs skipped or held back by gating, effects performed by kind), then every
effect in the client's local time, and the state of the trail's verification. Figures come from
the audit records only:

- runs / succeeded / failed: ``run.finished`` records (dry runs are not counted; a run stopped
  by a rejected approval is counted in runs only);
- skipped / gated: ``run.skipped`` / ``run.gated`` records;
- effects by kind: ``effect.done``, plus ``effect.reconciled`` that found the effect done;
- the effect list adds ``effect.failed`` (shown as failed, not counted as performed).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from avflow.audit.export import Filter, iter_records, record_time
from avflow.audit.report_text import TEXT, Describer, month_label
from avflow.audit.verify import Verification


@dataclass
class WorkflowSummary:
    """One workflow's figures for the month."""

    workflow: str
    name: str
    runs: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    gated: int = 0
    effects: Counter[str] = field(default_factory=Counter)
    effects_failed: int = 0

    @property
    def effects_total(self) -> int:
        return sum(self.effects.values())


@dataclass(frozen=True)
class EffectRow:
    seq: int
    time: datetime  # in the client's timezone
    workflow: str
    kind: str
    description: str
    outcome: str  # done | confirmed | failed


@dataclass
class ActivityReport:
    """Everything the HTML shows."""

    client: str
    client_name: str
    timezone: str
    month: str
    generated: datetime
    workflows: list[WorkflowSummary]
    effects: list[EffectRow]
    records: int
    first_seq: int
    last_seq: int
    verification: Verification | None = None
    language: str = "en"
    kind_labels: dict[str, str] = field(default_factory=dict)  # effect kind -> plain words

    @property
    def totals(self) -> WorkflowSummary:
        t = WorkflowSummary("", TEXT.get(self.language, TEXT["en"])["all_workflows"])
        for w in self.workflows:
            t.runs, t.succeeded, t.failed = (
                t.runs + w.runs,
                t.succeeded + w.succeeded,
                t.failed + w.failed,
            )
            t.skipped, t.gated = t.skipped + w.skipped, t.gated + w.gated
            t.effects.update(w.effects)
            t.effects_failed += w.effects_failed
        return t


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    year, mon = (int(x) for x in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=tz)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=tz)
    return start, end


def build(
    directory: Path,
    client: str,
    client_name: str,
    timezone: str,
    month: str,
    *,
    workflow_names: dict[str, str] | None = None,
    verification: Verification | None = None,
    now: datetime | None = None,
    describer: Describer | None = None,
) -> ActivityReport:
    """Compute the report for ``month`` (``YYYY-MM``, in the client's ``timezone``).

    ``describer`` tells each effect in plain words in the client's language (its plugins'
    `avflow.EffectWords`); without one, effects show their own descriptions.
    """
    tz = ZoneInfo(timezone)
    start, end = month_bounds(month, tz)
    tally = _Tally(tz, workflow_names or {}, describer or Describer({}))
    # Read from a little earlier so that a dry run started before the month is still known as one.
    for _, rec in iter_records(directory, Filter(since=start - timedelta(days=2), until=end)):
        tally.add(rec, start)
    return ActivityReport(
        client,
        client_name,
        timezone,
        month,
        (now or datetime.now(UTC)).astimezone(tz),
        sorted(tally.summaries.values(), key=lambda s: s.name.lower()),
        tally.effects,
        tally.count,
        tally.first,
        tally.last,
        verification,
        tally.describer.language,
        {kind: tally.describer.label(kind) for kind in tally.kinds},
    )


class _Tally:
    """The month's figures, gathered one audit record at a time."""

    def __init__(self, tz: ZoneInfo, names: dict[str, str], describer: Describer) -> None:
        self.tz, self.names, self.describer = tz, names, describer
        self.summaries: dict[str, WorkflowSummary] = {}
        self.effects: list[EffectRow] = []
        self.dry_runs: set[str] = set()
        self.kinds: set[str] = set()
        self.count, self.first, self.last = 0, 0, 0

    def add(self, rec: dict[str, Any], start: datetime) -> None:
        event, details, run = rec.get("event"), rec.get("details") or {}, rec.get("run")
        if event in ("run.started", "run.resumed") and details.get("dry_run"):
            self.dry_runs.add(str(run))
        when = record_time(rec)
        if when < start:
            return
        self.count += 1
        self.first = self.first or int(rec["seq"])
        self.last = int(rec["seq"])
        wf = rec.get("workflow")
        if not wf or run in self.dry_runs:
            return
        s = self.summaries.get(wf)
        if s is None:
            s = self.summaries[wf] = WorkflowSummary(wf, self.names.get(wf, wf))
        if event == "run.finished":
            s.runs += 1
            if details.get("status") == "succeeded":
                s.succeeded += 1
            elif details.get("status") != "rejected":  # a rejected approval is no failure
                s.failed += 1
        elif event == "run.skipped":
            s.skipped += 1
        elif event == "run.gated":
            s.gated += 1
        elif event == "effect.done" or (event == "effect.reconciled" and details.get("found")):
            s.effects[str(details.get("kind") or "")] += 1
            self._effect(rec, when, "done" if event == "effect.done" else "confirmed")
        elif event == "effect.failed":
            s.effects_failed += 1
            self._effect(rec, when, "failed")

    def _effect(self, rec: dict[str, Any], when: datetime, outcome: str) -> None:
        details = rec.get("details") or {}
        kind = str(details.get("kind") or "")
        words = details.get("words") if isinstance(details.get("words"), dict) else None
        text = self.describer.text(kind, str(rec.get("description") or ""), words)
        self.kinds.add(kind)
        local = when.astimezone(self.tz)
        self.effects.append(
            EffectRow(int(rec["seq"]), local, str(rec["workflow"]), kind, text, outcome)
        )


TEMPLATE = """<!DOCTYPE html>
<html lang="{{ r.language }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ r.client_name }}: {{ t.title }} {{ r.month }}</title>
<style>
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2733;
       margin: 2rem auto; max-width: 62rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.muted { color: #5b6773; } table { border-collapse: collapse; width: 100%; margin-top: .6rem; }
th, td { text-align: left; padding: .35rem .55rem; border-bottom: 1px solid #dde3ea; vertical-align: top; }
th { background: #f2f5f8; font-weight: 600; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 600; border-top: 2px solid #b8c2cc; }
ul.kinds { margin: 0; padding: 0; list-style: none; } .failed { color: #a11d1d; font-weight: 600; }
.verified { border-left: 4px solid #2f8f4e; background: #eef8f1; padding: .6rem .9rem; }
.unverified { border-left: 4px solid #a11d1d; background: #fbeeee; padding: .6rem .9rem; }
code { font-size: .9em; }
@media print { body { margin: 0; } }
</style>
</head>
<body>
<h1>{{ r.client_name }}</h1>
<p class="muted">{{ t.report_for }} <strong id="month">{{ month_label }}</strong>.
{{ t.times_in }} {{ r.timezone }}. {{ t.generated }} {{ r.generated.strftime("%Y-%m-%d %H:%M") }}.</p>
{% set v = r.verification %}
{% if v is not none %}
<p id="verification" class="{{ 'verified' if v.ok else 'unverified' }}" data-ok="{{ 'true' if v.ok else 'false' }}">
{% if v.ok %}{{ t.verifies.format(records=v.records, first=v.first_seq, last=v.last_seq, checkpoints=v.checkpoints) | safe }}
<code>{{ v.key }}</code>.
{% else %}{{ t.not_verified }} {{ v.first_problem }}.{% endif %}
{{ t.this_month }} <span id="first-seq">{{ r.first_seq }}</span>&ndash;<span id="last-seq">{{ r.last_seq }}</span>.
</p>
{% endif %}
<h2>{{ t.summary }}</h2>
<table id="summary">
<thead><tr><th>{{ t.workflow }}</th><th class="num">{{ t.runs }}</th><th class="num">{{ t.succeeded }}</th><th class="num">{{ t.failed }}</th>
<th class="num">{{ t.skipped }}</th><th class="num">{{ t.gated }}</th><th>{{ t.effects_performed }}</th></tr></thead>
<tbody>
{% for s in r.workflows + [r.totals] %}
<tr {% if loop.last %}class="total" data-workflow="*"{% else %}data-workflow="{{ s.workflow }}"{% endif %}>
<td>{{ s.name }}</td>
<td class="num" data-field="runs">{{ s.runs }}</td>
<td class="num" data-field="succeeded">{{ s.succeeded }}</td>
<td class="num" data-field="failed">{{ s.failed }}</td>
<td class="num" data-field="skipped">{{ s.skipped }}</td>
<td class="num" data-field="gated">{{ s.gated }}</td>
<td><ul class="kinds">{% for kind, n in s.effects | dictsort %}<li data-kind="{{ kind }}" data-count="{{ n }}">{{ r.kind_labels.get(kind, kind or "other") }}: {{ n }}</li>{% endfor %}
{% if not s.effects %}<li class="muted">{{ t.none }}</li>{% endif %}
{% if s.effects_failed %}<li class="failed" data-kind="failed" data-count="{{ s.effects_failed }}">{{ t.failed_outcome }}: {{ s.effects_failed }}</li>{% endif %}</ul></td>
</tr>
{% endfor %}
</tbody>
</table>
<h2>{{ t.effects }}</h2>
{% if r.effects %}
<table id="effects">
<thead><tr><th>{{ t.when }}</th><th>{{ t.workflow }}</th><th>{{ t.kind }}</th><th>{{ t.what }}</th><th>{{ t.outcome }}</th></tr></thead>
<tbody>
{% for e in r.effects %}
<tr data-seq="{{ e.seq }}" data-outcome="{{ e.outcome }}">
<td data-field="time">{{ e.time.strftime("%Y-%m-%d %H:%M") }}</td>
<td>{{ names.get(e.workflow, e.workflow) }}</td><td data-field="kind" data-kind="{{ e.kind }}">{{ r.kind_labels.get(e.kind, e.kind) }}</td>
<td>{{ e.description }}</td>
<td class="{{ 'failed' if e.outcome == 'failed' else '' }}">{{ labels[e.outcome] }}</td>
</tr>
{% endfor %}
</tbody>
</table>
{% else %}<p id="no-effects" class="muted">{{ t.no_effects }}</p>{% endif %}
<p class="muted">{{ t.footer }}</p>
</body>
</html>
"""

_ENV = jinja2.Environment(
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
)


def render_html(report: ActivityReport) -> str:
    """The report as one HTML document with no external resource."""
    t = TEXT.get(report.language, TEXT["en"])
    names = {s.workflow: s.name for s in report.workflows}
    labels = {"done": t["done"], "confirmed": t["confirmed"], "failed": t["failed_outcome"]}
    return _ENV.from_string(TEMPLATE).render(
        r=report,
        t=t,
        month_label=month_label(report.month, report.language),
        names=names,
        labels=labels,
    )
