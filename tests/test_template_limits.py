"""Template limits: size, repetition, powers, ranges, nesting, forbidden tags and a time budget.

Each hostile template ends in one line (`TemplateLimitError` or a syntax-like refusal) quickly,
before CPython is asked for the huge value; in a run, it fails the step with that line, within
the step's timeout, and a run resumed after a crash in the middle of it ends failed too.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from avflow import template_limits as tl
from avflow import templates
from avflow.testing import Harness

from .test_validate import GOOD_PROFILE, validate

DEEP = "{{ " + "(" * 80 + "1" + ")" * 80 + " }}"

# (case id, template, fragment of the one-line error)
HOSTILE: list[tuple[str, str, str]] = [
    ("power", "{{ 10**(10**9) }}", "power larger than"),
    ("power-of-variable", "{{ (n**n)**(n**n) }}", "power larger than"),
    ("repeat-string", "{{ 'a'*10**9 }}", "repetition would make more than"),
    ("repeat-reversed", "{{ 10**9*'a' }}", "repetition would make more than"),
    ("repeat-list", "{{ [1, 2]*10**6 }}", "repetition would make more than"),
    ("range", "{{ range(10**9) | list }}", "range of more than"),
    ("range-in-loop", "{% for i in range(10**9) %}x{% endfor %}", "range of more than"),
    (
        "nested-loops-output",
        "{% for i in range(99999) %}{% for j in range(99999) %}"
        "{{ 'x' * 1000 }}{% endfor %}{% endfor %}",
        "output longer than",
    ),
    (
        "nested-loops-silent",
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
        "took longer than",
    ),
    ("doubling-concat", "{% set a = 'x'*999999 %}{{ a ~ a }}", "concatenation would make"),
    ("doubling-plus", "{% set a = 'x'*999999 %}{{ a + a }}", "concatenation would make"),
    ("big-product", "{{ (7**20000) * (7**20000) }}", "product larger than"),
    ("center-method", "{{ 'a'.center(10**9) }}", "str.center would make"),
    ("zfill-method", "{{ '1'.zfill(10**9) }}", "str.zfill would make"),
    ("center-filter", "{{ 'a' | center(1000000000) }}", "center filter would make"),
    ("indent-filter", "{{ ('a\n'*100000) | indent(1000) }}", "indent filter would make"),
    ("format-width", "{{ '{:1000000000}'.format(1) }}", "formats wider than"),
    ("format-nested-width", "{{ '{:{}}'.format(1, 10**9) }}", "width taken from an argument"),
    ("percent-width", "{{ '%1000000000d' % 1 }}", "formats wider than"),
    ("percent-star", "{{ '%*d' % (10**9, 1) }}", "width taken from an argument"),
    ("format-filter", "{{ '%1000000000s' | format('x') }}", "formats wider than"),
    ("format-many", "{{ ('{0}'*100000).format('y'*1000) }}", "formatting would make"),
    ("join-filter", "{{ range(5000) | join('x'*1000) }}", "join would make"),
    ("join-method", "{{ ('x'*1000).join(range(5000)|map('string')) }}", "join would make"),
    ("replace-filter", "{{ ('a'*1000) | replace('a', 'b'*10000) }}", "replace filter would make"),
    ("replace-method", "{{ ('a'*1000).replace('', 'b'*10000) }}", "str.replace would make"),
    ("batch-fill", "{{ [1] | batch(10**9, 0) | list }}", "batch filter would make"),
    (
        "work-in-a-loop",
        "{% for i in range(99999) %}{% set s = 'z'*999999 %}{% endfor %}",
        "characters in all",
    ),
]
REFUSED: list[tuple[str, str, str]] = [
    ("deep-parentheses", DEEP, "nested more than 30 levels deep"),
    ("deep-lists", "{{ " + "[" * 80 + "]" * 80 + " }}", "nested more than 30 levels deep"),
    ("deep-blocks", "{% if 1 %}" * 40 + "x" + "{% endif %}" * 40, "nested more than 30"),
    ("long-chain", "{{ 1" + " + 1" * 5000 + " }}", "more than 200 operators"),
    ("long-filter-chain", "{{ 'a'" + " | upper" * 5000 + " }}", "more than 200 operators"),
    ("not-chain", "{{ " + "not " * 5000 + "1 }}", "more than 200 operators"),
    ("macro", "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "may not use {% macro %}"),
    ("set-block", "{% set x %}{{ 'a' }}{% endset %}{{ x }}", "may not use a {% set %} block"),
    ("filter-block", "{% filter upper %}a{% endfilter %}", "may not use {% filter %}"),
    ("recursive-loop", "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", "recursive"),
    ("syntax", "{{ 1 +", "unexpected 'end of template'"),
]


@pytest.mark.parametrize("case", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_each_hostile_template_stops_on_one_line(case: tuple[str, str, str]) -> None:
    _, text, fragment = case
    started = time.monotonic()
    with pytest.raises(tl.TemplateLimitError) as info:
        templates.render(text, {"n": 10})
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)
    assert time.monotonic() - started < tl.TIME_BUDGET + 2


@pytest.mark.parametrize("case", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_before_running_even_by_references(case: tuple[str, str, str]) -> None:
    _, text, fragment = case
    for attempt in (lambda: templates.render(text, {}), lambda: templates.references(text)):
        with pytest.raises(templates.TemplateSyntaxError) as info:
            attempt()
        assert fragment in str(info.value) and "\n" not in str(info.value)


def test_ordinary_templates_are_untouched() -> None:
    ctx = {"steps": {"a": {"outputs": {"files": [{"name": "x.pdf"}, {"name": "y.pdf"}]}}}}
    assert templates.render("{{ steps.a.outputs.files | map(attribute='name') | list }}", ctx) == [
        "x.pdf",
        "y.pdf",
    ]
    assert templates.render("{{ 2**100 }}", {}) == 2**100
    assert templates.render("{{ 'ab' * 3 }}-{{ '%05d' % 42 }}-{{ '{:>4}'.format(7) }}", {}) == (
        "ababab-00042-   7"
    )
    assert templates.render("{{ range(3) | join(', ') }}", {}) == "0, 1, 2"
    assert templates.render("{% for i in range(3) %}{{ i }}{% endfor %}", {}) == "012"
    assert templates.render("{{ 'a b'.split() | length }}", {}) == 2
    # the limits themselves: exactly at the limit is fine, one more is not
    assert len(templates.render(f"{{{{ 'a' * {tl.MAX_STRING} }}}}", {})) == tl.MAX_STRING
    with pytest.raises(tl.TemplateLimitError):
        templates.render(f"{{{{ 'a' * {tl.MAX_STRING + 1} }}}}", {})
    assert len(templates.render(f"{{{{ range({tl.MAX_ITEMS}) | list }}}}", {})) == tl.MAX_ITEMS


def test_string_methods_that_can_grow_a_string_unchecked_are_refused() -> None:
    with pytest.raises(Exception, match="unsafe"):
        templates.render("{{ 'a\tb'.expandtabs(10**9) }}", {})
    with pytest.raises(Exception, match="unsafe"):
        templates.render("{{ 'a'.translate({97: 'b'*1000000}) }}", {})


def test_one_time_budget_for_a_block_of_renderings() -> None:
    slow = "{% for i in range(99999) %}{% for j in range(99996) %}{% endfor %}{% endfor %}"
    started = time.monotonic()
    with (
        pytest.raises(tl.TemplateLimitError, match=r"took longer than 0\.3s"),
        templates.limited(0.3),
    ):
        templates.render("{{ 1 }}", {})
        templates.render(slow, {})
    assert time.monotonic() - started < 2
    assert templates.render("{{ 1 + 1 }}", {}) == 2  # the guard is gone afterwards


def test_a_template_that_used_a_whole_budget_is_not_rendered_again() -> None:
    slow = "{% for i in range(99999) %}{% for j in range(99998) %}{% endfor %}{% endfor %}"
    quick = "{% for i in range(99999) %}{% for j in range(99997) %}{% endfor %}{% endfor %}"
    with pytest.raises(tl.TemplateLimitError, match="took longer than 0"), templates.limited(0.2):
        templates.compiled(quick).render()  # a step's rest of a timeout: not remembered
    started = time.monotonic()
    with pytest.raises(tl.TemplateLimitError, match=r"took longer than 3s to render$"):
        templates.compiled(slow).render()
    assert time.monotonic() - started >= tl.TIME_BUDGET
    started = time.monotonic()
    for _ in range(5):  # as an action rendering it for each of its items
        with pytest.raises(tl.TemplateLimitError, match=r"\(before: not rendered again\)"):
            templates.compiled(slow).render()
    assert time.monotonic() - started < 1


def _poisoned(h: Harness, template: str, timeout: float | None = None) -> None:
    h.client("acme")
    step = {"id": "bad", "uses": "core.log", "with": {"message": template}}
    if timeout is not None:
        step["timeout"] = timeout
    h.workflow("acme", "wf", {"steps": [step, {"uses": "core.log", "with": {"message": "after"}}]})


def test_a_poisoned_step_fails_on_one_line_and_the_run_ends(harness: Harness) -> None:
    _poisoned(harness, "{{ 10**(10**9) }}")
    started = time.monotonic()
    result = harness.run("acme/wf")
    assert time.monotonic() - started < 5
    assert result.status == "failed"
    assert result.error == "step bad: template error: template power larger than 65,536 bits"
    assert result.steps == {"bad": "failed"}


def test_rendering_counts_against_the_step_timeout(harness: Harness) -> None:
    slow = "{% for i in range(99999) %}{% for j in range(99995) %}{% endfor %}{% endfor %}"
    _poisoned(harness, slow, timeout=0.5)
    started = time.monotonic()
    result = harness.run("acme/wf")
    assert time.monotonic() - started < 3
    assert result.status == "failed"
    assert result.error == "step bad: template error: template took longer than 0.5s to render"


def test_a_run_killed_while_rendering_is_resumed_once_into_a_final_failure(
    harness: Harness,
) -> None:
    _poisoned(harness, "{% for i in range(99999) %}{{ 'x' * 99 }}{% endfor %}")
    first = harness.run("acme/wf")
    assert first.status == "failed" and "output longer than" in (first.error or "")
    # as if the process had died while rendering: the run is left running, its step unfinished
    state = harness.app.engine.state
    state.set_run(first.id, status="running", error=None, finished_at=None)
    with state.tx() as db:
        db.execute("DELETE FROM steps WHERE run_id = ?", (first.id,))
    resumed = harness.resume()
    assert [r.status for r in resumed] == ["failed"]
    assert "\n" not in (resumed[0].error or "") and "output longer than" in (resumed[0].error or "")
    assert harness.resume() == []  # ended: not resumed into the same failure again


def test_validate_reports_a_too_deep_template_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")
    folder = tmp_path / "workflows" / "acme"
    folder.mkdir(parents=True)
    (folder / "client.yaml").write_text(GOOD_PROFILE)
    wf = folder / "wf.yaml"
    wf.write_text(f"steps:\n  - uses: core.log\n    with:\n      message: '{DEEP}'\n")
    code, err = validate(tmp_path / "workflows", capsys)
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [
        f"{wf}:4:7: template syntax error: template nested more than 30 levels deep"
    ]
