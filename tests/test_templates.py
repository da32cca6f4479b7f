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


class _File:
    """An object as an action hands one to a template (attributes, a property, a private one)."""

    year = "2026"
    name = "fattura.pdf"
    _secret = "hidden"

    @property
    def sender_domain(self) -> str:
        return "enel.it"


def _nested(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth):
        value = [value]
    return value


SUBSTITUTIONS = [
    ("Fatture/{{ file.year }}/{{ file.sender_domain }}/{{ file.name }}", {}),
    ("{{ a }}-{{ b }}-{{ c }}-{{ d }}", {"a": None, "b": 3, "c": [1, "x"], "d": {"k": 1.5}}),
    ("{{ d.k }} {{ d.missing }}", {"d": {"k": "via the item"}}),
    ("x {{ missing }}", {}),
    ("x {{ missing.attr }}", {}),
    ("x {{ file.nope }}", {}),
    ("x {{ file._secret }}", {}),
    ("x {{ file.__class__ }}", {}),
    ("x {{ file.name.upper }}", {}),
    ("x {{ file.name.encode }}", {}),
    ("x {{ lst.append }}", {"lst": [1]}),
    ("{{ range }} {{ dict }}", {}),
    ("x {{ range }}", {"range": "the context's own"}),
    ("  {{- file.year -}}  /{{ file.name }}\n", {}),
    ("a {{ file.year }}\n\n", {}),
    ("{{ big }}{{ big }}", {"big": "x" * 600_000}),
    ("deep: {{ deep }}", {"deep": _nested(100_000)}),
]


def _outcome(render: object) -> tuple[str, str]:
    try:
        return "ok", str(render())  # type: ignore[operator]
    except Exception as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize(("text", "variables"), SUBSTITUTIONS)
def test_plain_substitutions_render_as_jinja2_does(text: str, variables: dict[str, object]) -> None:
    """A template of text and ``{{ name.attr }}`` only skips Jinja2's machinery (a path template
    rendered for every file): the same text, or the same error, as Jinja2 in the same sandbox
    with the same limits."""
    context = {"file": _File(), **variables}
    compiled = templates.Compiled(text)
    assert compiled._plain is not None  # the quick path is the one under test
    jinja = templates.env().from_string(text)

    def slow() -> str:
        with templates.limited():
            return compiled._chunks(context)

    expected = _outcome(slow)
    assert _outcome(lambda: compiled.render(**context)) == expected
    if "big" in variables:
        assert expected[0] == "TemplateLimitError"
    elif "deep" in variables:
        assert expected == ("TemplateLimitError", "template recursion too deep")
    else:
        assert _outcome(lambda: jinja.render(**context)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "{{ file.name | upper }}",
        "{{ file['name'] }}",
        "{{ self }}",
        "{{ a ~ b }}",
        "{% if a %}x{% endif %}",
        "{{ f() }}",
        "{{ 'const' }}",
    ],
)
def test_other_templates_are_rendered_by_jinja2(text: str) -> None:
    assert templates.Compiled(text)._plain is None


def _dotted_templates() -> list[str]:
    """Many templates, most of them dotted names only (the quick path), some not."""
    import random

    rnd = random.Random(10)
    words = [
        "client", "steps", "run", "workflow", "file", "name", "outputs", "_x", "a1", "if",
        "true", "None", "not", "range", "dict", "in", "is", "loop", "self", "e", "x_y", "Z",
    ]  # fmt: skip
    spaces = ["", " ", "  ", "\n", "\t "]
    out = []
    for _ in range(3000):
        exprs = []
        for _ in range(rnd.randint(1, 3)):
            dotted = ".".join(rnd.choice(words) for _ in range(rnd.randint(1, 4)))
            if rnd.random() < 0.1:
                dotted = rnd.choice(["a .b", "a.0", "a.b()", "-a", "a|upper", "a[1]", "é.b"])
            exprs.append(rnd.choice(spaces) + dotted + rnd.choice(spaces))
        literal = rnd.choice(["", "x", ": ", " of client 7 }} ", "{ "])
        out.append(literal.join("{{" + e + "}}" for e in exprs) + rnd.choice(["", " end"]))
    return out


def test_dotted_names_are_read_without_jinja2_as_jinja2_reads_them() -> None:
    """`checks.references` reads templates whose expressions are all dotted names without
    Jinja2: on thousands of templates, what it finds is what Jinja2's parse finds."""
    from avflow import checks

    assert set(templates.env().globals) == templates.GLOBALS
    quick = 0
    for text in _dotted_templates():
        try:
            expected = templates.references(text)
        except templates.TemplateSyntaxError:
            expected = None
        exprs = checks._EXPR.findall(text)
        plain = checks._plain(tuple(exprs))
        if plain is not None and "{{" not in checks._EXPR.sub("", text):
            quick += 1
            assert plain == expected, text
        try:
            assert checks.references(text) == expected, text
        except templates.TemplateSyntaxError:
            assert expected is None, text
    assert 300 < quick < 2500  # the quick path was taken, and not always
