"""The reader's quick pass (libyaml composing in C) reads every file as the event composer does,
or declines it; `parse` gives the same `Doc` data and the same located errors either way."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from avflow.errors import ConfigError
from avflow.yamlcompose import MAX_DEPTH, Composer
from avflow.yamlfast import quick
from avflow.yamlfile import parse

P = Path("f.yaml")
ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not yaml.__with_libyaml__, reason="libyaml's C extension")


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types (True is not 1, 1.0 is not 1) and NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def check(text: str) -> bool:
    """True when the quick pass read ``text``; fails when it read it otherwise than the composer."""
    fast = quick(text)
    try:
        slow: Any = Composer(text, P, positions=False).run().data
    except ConfigError:
        assert fast is None, f"{text!r}: read by the quick pass, refused by the composer"
        return False
    if fast is None:
        return False
    assert same(fast[0], slow), f"{text!r}: quick {fast[0]!r} != composer {slow!r}"
    return True


SCALARS = [
    *[
        "on",
        "off",
        "yes",
        "no",
        "y",
        "n",
        "true",
        "True",
        "TRUE",
        "false",
        "FALSE",
        "null",
        "Null",
        "NULL",
        "~",
        "0",
        "-3",
        "+4",
        "007",
        "0o17",
        "0x1F",
    ],
    *[
        "0b101",
        "1_000",
        "1e5",
        "-1.5e-3",
        "3.",
        ".5",
        ".inf",
        "-.inf",
        "+.Inf",
        ".nan",
        ".NaN",
        "12:30",
        "190:20:30",
        "2026-12-24",
    ],
    *["2026-12-24T10:00:00Z", "0.1.2", "1e", "0x", "é", "-", "--", "x:", "@x"],
    "2026-01-05 08:00",
    "'quoted'",
    '"0x1F"',
    "'true'",
    '"null"',
    "''",
    "! 12",
    "!!str 12",
    "!!int 12",
    "!!float 1",
    "!!bool yes",
    "!custom x",
]


@pytest.mark.parametrize("value", SCALARS)
def test_scalars(value: str) -> None:
    check(f"key: {value}\nlist: [{value}, x]\nblock:\n  - {value}\n")
    check(f"{value}\n")


READ = [
    "",
    "---\n",
    "a: 1\n",
    "a:\n  b:\n    - c\n    - {d: e, f: [1, 2.5, null]}\n",
    "on: 1\nyes: 2\n'quoted': 3\n\"dq\": 4\n1: 5\n~: 6\ntrue: 7\n",
    "text: |\n  two\n  lines\nfolded: >\n  one\n  line\n",
    "a: &x 1\nb: 2\n",  # an anchor nobody uses
    "- 1\n- [2, [3, [4]]]\n",
    "a: 'it''s'\nb: \"\\u00e9\\n\"\n",
    "title: Big sale! Come in!\nb: x!\n",
    "publish: 2026-03-29 02:30\nchannels: [social, blog]\nmedia:\n  - {file: a.png, alt: ''}\n",
]
DECLINED = [
    "a: &x [1, 2]\nb: *x\n",  # an alias
    "base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n",  # a merge key
    "'<<': 1\n",
    "a: 1\na: 2\n",  # a duplicate key
    "? [a, b]\n: c\n",  # a list as a key
    "? {a: b}\n: c\n",
    "!!str a: 1\n",
    "a: !!map {b: 1}\n",
    "a: !!seq [1]\n",
    "a: !!binary aGk=\n",
    "a: 1\n---\nb: 2\n",  # two documents
    "a: [1, 2\n",  # a syntax error
    "a:\n\t- 1\n",
    "key: value\n bad: indent\n",
    "x: *nothing\n",
    "&a a: *a\n",
    "a: ! '12'\n",
    "! {a: 1}\n",
    "a: [! 12]\n",
    "a: !<!> 12\n",
    "%YAML 1.2\n---\na: 1\n",
    "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n",
]


@pytest.mark.parametrize("text", READ)
def test_what_it_reads(text: str) -> None:
    assert check(text)


@pytest.mark.parametrize("text", DECLINED)
def test_what_it_declines(text: str) -> None:
    assert quick(text) is None
    check(text)


def test_depth_at_the_limit() -> None:
    assert check("[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n")
    assert quick("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n") is None


def test_random_documents() -> None:
    rnd = random.Random(14)
    words = [*(s for s in SCALARS if not s.startswith("!")), "a", "b c", "é"]

    def value(depth: int) -> str:
        kind = rnd.random()
        if depth > 3 or kind < 0.5:
            return rnd.choice(words)
        if kind < 0.75:
            return "[" + ", ".join(value(depth + 1) for _ in range(rnd.randint(0, 3))) + "]"
        keys = rnd.sample(["a", "b", "on", "1", "'q'", "~", "x y"], rnd.randint(0, 3))
        return "{" + ", ".join(f"{k}: {value(depth + 1)}" for k in keys) + "}"

    read = 0
    for _ in range(400):
        lines = [f"k{i}: {value(0)}" for i in range(rnd.randint(1, 5))]
        read += check("\n".join(lines) + "\n")
    assert read > 200  # most are read by the quick pass, every one as the composer reads it


def test_the_projects_yaml_files() -> None:
    files = [
        p
        for p in ROOT.rglob("*.y*ml")
        if ".venv" not in p.parts and "node_modules" not in p.parts and p.is_file()
    ]
    assert files
    for path in files:
        check(path.read_text(encoding="utf-8"))


def test_parse_same_errors_and_positions_either_way() -> None:
    doc = parse("a: 1\nb:\n  c: [x, y]\n", P)
    assert doc.data == {"a": 1, "b": {"c": ["x", "y"]}}
    assert str(doc.locate(("b", "c", 1))) == "f.yaml:3:10"
    with pytest.raises(ConfigError) as caught:
        parse("a: 1\nb: 2\na: 3\n", P)
    assert str(caught.value.location) == "f.yaml:3:1"
    assert "duplicate key 'a' (first on line 1)" in str(caught.value)
