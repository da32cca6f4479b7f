"""Template references: the quick reading of expression-only templates agrees with Jinja2's."""

from __future__ import annotations

import pytest
from jinja2 import meta

from avflow import templates

EXPRESSIONS = [
    "{{ client.name }}",
    "{{ client.name }}: {{ run.time }} {{ steps.triage.outputs.count }}",
    "{{ steps['fetch'].outputs.files | length }} files",
    "{{ x if y else z }}",
    "{{ (a + b) * c }} and {{ d ~ e }}",
    "{{ items | map(attribute='name') | join(', ') }}",
    "{{ range(3) | list }} {{ dict(a=1) }}",
    "{{ a.b.c[d][0] }}",
    "{{ f(g, key=h) }}",
    "{{ [a, b, 1] }} {{ {'k': v} }}",
    "{{ a is defined and b is not none }}",
    "{{ 'literal' }} text only",
    "no template at all",
    "{{ message | default('x') | upper }}",
    "{{ foo.bar(baz) }}{{ steps.one.outputs }}",
]


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_expression_only_templates_read_like_jinja2(text: str) -> None:
    expected = frozenset(meta.find_undeclared_variables(templates.env().parse(text)))
    assert templates.references(text).variables == expected


def test_templates_with_statements_keep_their_local_names_out() -> None:
    refs = templates.references(
        "{% for m in steps.triage.outputs.handled %}{{ m.subject }}{% endfor %}"
    )
    assert refs.variables == {"steps"} and refs.steps == {"triage"}
    refs = templates.references("{% set n = client.name %}{{ n }} {# comment #}{{ run.id }}")
    assert refs.variables == {"client", "run"}
