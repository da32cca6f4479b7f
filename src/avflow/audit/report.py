"""The monthly activity report an AV hands to a client: one self-contained HTML file.

For a month of the client's local calendar: a summary per workflow (runs that finished, split in
successes and failures, runs skipped or held back by gating, effects performed by kind), then every
effect in the client's local time, and the state of the trail's verification. Figures come from
the audit records only:

- runs / succeeded / failed: ``run.finished`` records (dry runs are not counted);
- skipped / gated: ``run.skipped`` / ``run.gated`` records;
- effects by kind: ``effect.done``, plus ``effect.reconciled`` that found the effect done;
- the effect list adds ``effect.failed`` (shown as failed, not counted as performed).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2

from avflow.audit.export import Filter, iter_records, record_time
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

    @property
    def totals(self) -> WorkflowSummary:
        t = WorkflowSummary("", "All workflows")
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
) -> ActivityReport:
    """Compute the report for ``month`` (``YYYY-MM``, in the client's ``timezone``)."""
    tz = ZoneInfo(timezone)
    start, end = month_bounds(month, tz)
    names = workflow_names or {}
    summaries: dict[str, WorkflowSummary] = {}
    effects: list[EffectRow] = []
    dry_runs: set[str] = set()
    count, first, last = 0, 0, 0
    # Read from a little earlier so that a dry run started before the month is still known as one.
    for _, rec in iter_records(directory, Filter(since=start - timedelta(days=2), until=end)):
        event, details, run = rec.get("event"), rec.get("details") or {}, rec.get("run")
        if event in ("run.started", "run.resumed") and details.get("dry_run"):
            dry_runs.add(str(run))
        when = record_time(rec)
        if when < start:
            continue
        count += 1
        first = first or int(rec["seq"])
        last = int(rec["seq"])
        wf = rec.get("workflow")
        if not wf or run in dry_runs:
            continue
        s = summaries.get(wf)
        if s is None:
            s = summaries[wf] = WorkflowSummary(wf, names.get(wf, wf))
        kind = str(details.get("kind") or "")
        local = when.astimezone(tz)
        desc = str(rec.get("description") or "")
        if event == "run.finished":
            s.runs += 1
            if details.get("status") == "succeeded":
                s.succeeded += 1
            else:
                s.failed += 1
        elif event == "run.skipped":
            s.skipped += 1
        elif event == "run.gated":
            s.gated += 1
        elif event == "effect.done" or (event == "effect.reconciled" and details.get("found")):
            s.effects[kind] += 1
            outcome = "done" if event == "effect.done" else "confirmed"
            effects.append(EffectRow(int(rec["seq"]), local, wf, kind, desc, outcome))
        elif event == "effect.failed":
            s.effects_failed += 1
            effects.append(EffectRow(int(rec["seq"]), local, wf, kind, desc, "failed"))
    return ActivityReport(
        client,
        client_name,
        timezone,
        month,
        (now or datetime.now(UTC)).astimezone(tz),
        sorted(summaries.values(), key=lambda s: s.name.lower()),
        effects,
        count,
        first,
        last,
        verification,
    )


OUTCOME_LABEL = {
    "done": "done",
    "confirmed": "done (confirmed after an interruption)",
    "failed": "failed",
}

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ r.client_name }}: activity report {{ r.month }}</title>
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
<p class="muted">Activity report for <strong id="month">{{ month_label }}</strong>.
Times are in {{ r.timezone }}. Generated {{ r.generated.strftime("%Y-%m-%d %H:%M") }}.</p>
{% set v = r.verification %}
{% if v is not none %}
<p id="verification" class="{{ 'verified' if v.ok else 'unverified' }}" data-ok="{{ 'true' if v.ok else 'false' }}">
{% if v.ok %}The audit trail verifies: {{ v.records }} records (seq {{ v.first_seq }}&ndash;{{ v.last_seq }}),
{{ v.checkpoints }} signed checkpoints, key <code>{{ v.key }}</code>.
{% else %}The audit trail does NOT verify: {{ v.first_problem }}.{% endif %}
This month: records seq <span id="first-seq">{{ r.first_seq }}</span>&ndash;<span id="last-seq">{{ r.last_seq }}</span>.
</p>
{% endif %}
<h2>Summary by workflow</h2>
<table id="summary">
<thead><tr><th>Workflow</th><th class="num">Runs</th><th class="num">Succeeded</th><th class="num">Failed</th>
<th class="num">Skipped</th><th class="num">Held back</th><th>Effects performed</th></tr></thead>
<tbody>
{% for s in r.workflows + [r.totals] %}
<tr {% if loop.last %}class="total" data-workflow="*"{% else %}data-workflow="{{ s.workflow }}"{% endif %}>
<td>{{ s.name }}</td>
<td class="num" data-field="runs">{{ s.runs }}</td>
<td class="num" data-field="succeeded">{{ s.succeeded }}</td>
<td class="num" data-field="failed">{{ s.failed }}</td>
<td class="num" data-field="skipped">{{ s.skipped }}</td>
<td class="num" data-field="gated">{{ s.gated }}</td>
<td><ul class="kinds">{% for kind, n in s.effects | dictsort %}<li data-kind="{{ kind }}" data-count="{{ n }}">{{ kind or "other" }}: {{ n }}</li>{% endfor %}
{% if not s.effects %}<li class="muted">none</li>{% endif %}
{% if s.effects_failed %}<li class="failed" data-kind="failed" data-count="{{ s.effects_failed }}">failed: {{ s.effects_failed }}</li>{% endif %}</ul></td>
</tr>
{% endfor %}
</tbody>
</table>
<h2>Effects</h2>
{% if r.effects %}
<table id="effects">
<thead><tr><th>Date and time</th><th>Workflow</th><th>Kind</th><th>What was done</th><th>Outcome</th></tr></thead>
<tbody>
{% for e in r.effects %}
<tr data-seq="{{ e.seq }}" data-outcome="{{ e.outcome }}">
<td data-field="time">{{ e.time.strftime("%Y-%m-%d %H:%M") }}</td>
<td>{{ names.get(e.workflow, e.workflow) }}</td><td data-field="kind">{{ e.kind }}</td>
<td>{{ e.description }}</td>
<td class="{{ 'failed' if e.outcome == 'failed' else '' }}">{{ labels[e.outcome] }}</td>
</tr>
{% endfor %}
</tbody>
</table>
{% else %}<p id="no-effects" class="muted">No effect was performed this month.</p>{% endif %}
<p class="muted">Runs count the runs that finished this month; trial (dry) runs are not counted.
"Held back" counts scheduled runs that gating (working hours, holidays) did not start.
Each figure can be checked against the audit records with the verification bundle.</p>
</body>
</html>
"""

_ENV = jinja2.Environment(
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
)


def render_html(report: ActivityReport) -> str:
    """The report as one HTML document with no external resource."""
    year, mon = (int(x) for x in report.month.split("-"))
    label = datetime(year, mon, 1).strftime("%B %Y")
    names = {s.workflow: s.name for s in report.workflows}
    return _ENV.from_string(TEMPLATE).render(
        r=report, month_label=label, names=names, labels=OUTCOME_LABEL
    )
