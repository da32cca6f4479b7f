"""The one read path: libyaml composes the node graph, one walk builds the data, and positions
are read from the graph. Values, tags, aliases, merges and limits, each with its expected result;
positions checked against the text itself (random documents and every YAML file of the project).
"""

from __future__ import annotations

import math
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from avflow.errors import ConfigError
from avflow.yamlfile import MAX_ALIAS_NODES, MAX_DEPTH, parse

P = Path("f.yaml")
ROOT = Path(__file__).resolve().parents[1]

# written -> value (a plain scalar under the YAML 1.2 core schema, or as its quotes/tag say)
SCALARS: list[tuple[str, Any]] = [
    ("on", "on"),
    ("n", "n"),
    ("NULL", None),
    ("0x1F", 31),
    ("-.inf", -math.inf),
    (".NaN", math.nan),
    ("2026-01-05 08:00", "2026-01-05 08:00"),
    ("-x", "-x"),
    ("--", "--"),
    ("x:y", "x:y"),
    ("'quoted'", "quoted"),
    ('"0x1F"', "0x1F"),
    ("'true'", "true"),
    ('"null"', "null"),
    ("''", ""),
    ("! 12", "12"),
    ("! '12'", "12"),
    ("!<!> 12", "12"),
    ("!!str 12", "12"),
    ("!!int 12", 12),
    ("!!int 0x1F", 31),
    ("!!float 1", 1.0),
    ("!!bool true", True),
    ("!!null ~", None),
    ("!<tag:yaml.org,2002:str> 12", "12"),
]


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


@pytest.mark.parametrize(("written", "value"), SCALARS, ids=[s[0] for s in SCALARS])
def test_scalars_in_every_context(written: str, value: Any) -> None:
    text = f"key: {written}\nlist: [{written}, x]\nblock:\n  - {written}\n"
    assert same(parse(text, P).data, {"key": value, "list": [value, "x"], "block": [value]})
    assert same(parse(f"{written}\n", P).data, value)


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("", None),
        ("---\n", None),
        ("%YAML 1.2\n---\na: 1\n", {"a": 1}),
        ("\ufeffa: 1\n", {"a": 1}),
        (
            "title: Big sale! Come in!\nb: x!\nc: R&D & more\n",
            {"title": "Big sale! Come in!", "b": "x!", "c": "R&D & more"},
        ),
        ("!!str a: 1\n!!int 2: x\n", {"a": 1, "2": "x"}),  # a key is the text written
        ("! {a: 1}\n", {"a": 1}),
        ("a: !!map {b: 1}\nc: !!seq [1]\n", {"a": {"b": 1}, "c": [1]}),
        ("a: &v 0x1F\n*v : b\n", {"a": 31, "0x1F": "b"}),
        ("&k a: *k\n", {"a": "a"}),
        ("[!, x]\n", ["", "x"]),
        ("a: &a ! 12\nb: ! &b 0x1\nc: [*a, *b]\n", {"a": "12", "b": "0x1", "c": ["12", "0x1"]}),
    ],
)
def test_documents(text: str, data: Any) -> None:
    assert same(parse(text, P).data, data)


@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        ("a: !!bool yes\n", "unsupported YAML tag", (1, 4)),
        ("a: !custom x\n", "unsupported YAML tag", (1, 4)),
        ("a: !!binary aGk=\n", "unsupported YAML tag", (1, 4)),
        ("a: !!map [1]\n", "unsupported YAML tag", (1, 4)),
        ("a: [1, !!python/object:os.system x]\n", "unsupported YAML tag", (1, 8)),
        ("a: x\n? [a, b]\n: c\n", "a mapping key must be text", (2, 3)),
        ("a: &k [1]\n*k : c\n", "a mapping key must be text", (2, 1)),
        ("a: 1\nb: {a: 2, a: 3}\n", "duplicate key 'a' (first on line 2)", (2, 11)),
        ("x: *nothing\n", "an alias (*name) that no anchor (&name) defines", (1, 4)),
        ("a: &a [1, *a]\n", "an alias (*name) that no anchor (&name) defines", (1, 11)),
        ("a: &x 1\nb: &x 2\n", "an anchor name (&name) defined twice (first on line 1)", (2, 4)),
        ("a: 1\n--- \nb: 2\n", "a file holds one YAML document", (2, 1)),
        ("a:\n  <<: [{x: 1}, 2]\n", "'<<' merges a mapping or a list of mappings", (2, 3)),
        ("'<<': 1\n", "'<<' merges a mapping", (1, 1)),
    ],
)
def test_mistakes(text: str, message: str, where: tuple[int, int]) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text, P)
    assert message in info.value.message
    assert info.value.location is not None
    assert (info.value.location.line, info.value.location.column) == where


def test_aliases_share_their_node_and_are_located_where_written() -> None:
    text = "base: &b {x: 1}\ncopy: *b\nlist:\n  - *b\n  - [*b,  *b] # *c\n"
    doc = parse(text, P)
    assert doc.data["copy"] is doc.data["base"] is doc.data["list"][1][1]

    def at(*loc: str | int) -> tuple[int | None, int | None]:
        where = doc.locate(loc)
        return where.line, where.column

    assert at("copy") == (2, 1)
    assert at("copy", "missing") == (2, 7)  # the alias, not the anchor
    assert at("copy", "x") == (1, 11)  # inside: the anchored mapping
    assert at("list", 0, "zz") == (4, 5)
    assert at("list", 1, 0, "zz") == (5, 6)
    assert at("list", 1, 1, "zz") == (5, 11)


def test_merge_keys() -> None:
    text = (
        "a: &a {x: 1, y: 1}\n"
        "b: &b {y: 2, z: 2}\n"
        "c:\n  <<: [*a, *b]\n  x: 3\n"
        "d:\n  <<: *a\n  <<: {w: 4}\n"
    )
    doc = parse(text, P)
    assert doc.data["c"] == {"x": 3, "y": 1, "z": 2}
    assert list(doc.data["c"]) == ["x", "y", "z"]  # the keys written first
    assert doc.data["d"] == {"x": 1, "y": 1, "w": 4}
    assert str(doc.locate(("c", "x"))) == "f.yaml:5:3"
    assert str(doc.locate(("c", "y"))) == "f.yaml:1:14"  # where the merged key is written
    assert str(doc.locate(("c", "z", "q"))) == "f.yaml:2:17"
    assert str(doc.locate(("d", "w"))) == "f.yaml:8:8"


def test_depth_limit_and_libyamls_own() -> None:
    assert parse("[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n", P).data is not None
    with pytest.raises(ConfigError) as info:
        parse("a:\n" + "  " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n", P)
    assert info.value.message == f"nested deeper than {MAX_DEPTH} levels"
    assert str(info.value.location) == f"f.yaml:2:{MAX_DEPTH + 2}"
    with pytest.raises(ConfigError) as info:
        parse("[" * 1001 + "]" * 1001, P)  # refused by libyaml before any node is built
    assert info.value.message == f"nested deeper than {MAX_DEPTH} levels"


def test_alias_expansion_is_counted_to_the_node() -> None:
    many = "a: &a x\nb: [" + ", ".join(["*a"] * MAX_ALIAS_NODES) + "]\n"
    assert len(parse(many, P).data["b"]) == MAX_ALIAS_NODES
    with pytest.raises(ConfigError) as info:
        parse(many.replace("[", "[*a, "), P)
    assert "aliases expand to more than 10,000 nodes" in info.value.message
    assert str(info.value.location) == f"f.yaml:2:{5 + 4 * MAX_ALIAS_NODES}"


def test_an_alias_bomb_costs_what_its_text_costs() -> None:
    """A million nodes (readable, were they not aliases) and 10**40: both stop at once."""
    for levels in (6, 40):
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
        started = time.process_time()
        with pytest.raises(ConfigError) as info:
            parse("\n".join(lines) + "\n", P)
        assert "an alias bomb" in info.value.message
        assert time.process_time() - started < 1.0


WORDS: list[tuple[str, Any]] = [
    (w, v) for w, v in SCALARS if not w.startswith(("!", "&")) and w != ".NaN"
] + [("a", "a"), ("b c", "b c"), ("é", "é"), ("1e5", 100000.0), ("yes", "yes"), ("~", None)]
KEYS = [("a", "a"), ("on", "on"), ("1", "1"), ("'q'", "q"), ("~", "~"), ("x y", "x y")]


def random_value(rnd: random.Random, depth: int) -> tuple[str, Any]:
    kind = rnd.random()
    if depth > 3 or kind < 0.5:
        return rnd.choice(WORDS)
    if kind < 0.75:
        items = [random_value(rnd, depth + 1) for _ in range(rnd.randint(0, 3))]
        return "[" + ", ".join(t for t, _ in items) + "]", [v for _, v in items]
    keys = rnd.sample(KEYS, rnd.randint(0, 3))
    pairs = [(k, random_value(rnd, depth + 1)) for k in keys]
    text = "{" + ", ".join(f"{k[0]}: {t}" for k, (t, _) in pairs) + "}"
    return text, {k[1]: v for k, (_, v) in pairs}


def key_paths(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += [(*path, key), *key_paths(item, (*path, key))]
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += key_paths(item, (*path, i))
    return found


def assert_keys_located(text: str, doc: Any) -> int:
    """Every key path of ``doc`` is located at its key as written in ``text``."""
    lines = text.splitlines()
    for path in key_paths(doc.data):
        where = doc.locate(path)
        assert where.line is not None and where.column is not None
        written = lines[where.line - 1][where.column - 1 :]
        assert written.lstrip("'\"").startswith(str(path[-1])), (path, where, written)
    return len(key_paths(doc.data))


def test_random_documents_read_and_located() -> None:
    rnd = random.Random(14)
    for n in range(600):
        pairs = [(f"k{i}", random_value(rnd, 0)) for i in range(rnd.randint(1, 5))]
        if n % 2:  # the careful walk (a file that may hold an anchor) reads the same
            pairs.append(("and", ("R &D", "R &D")))
        text = "".join(f"{k}: {t}\n" for k, (t, _) in pairs)
        doc = parse(text, P)
        assert same(doc.data, {k: v for k, (_, v) in pairs}), text
        assert_keys_located(text, doc)


def test_the_projects_yaml_files_are_read_and_every_key_located() -> None:
    files = [
        p
        for p in ROOT.rglob("*.y*ml")
        if ".venv" not in p.parts and "node_modules" not in p.parts and p.is_file()
    ]
    located = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        located += assert_keys_located(text, parse(text, path))
    assert len(files) > 10 and located > 200


FALLBACK = """
import yaml
yaml.__with_libyaml__ = False  # in this process only: PyYAML's composer in Python
from pathlib import Path
from avflow.errors import ConfigError
from avflow import yamlnodes
from avflow.yamlfile import parse
assert yamlnodes._Fast.__mro__[1] is yamlnodes._PyParser
P = Path("f.yaml")
doc = parse("a: &b {x: ! 1}\\nc: [*b, on, 0x1F]\\n", P)
print(doc.data, doc.locate(("c", 0, "q")), doc.locate(("a", "x")))
for text in ("[" * 5000, "a: *x\\n", "a: &x 1\\nb: &x 2\\n", "a: 1\\n---\\nb: 2\\n"):
    try:
        parse(text, P)
    except ConfigError as exc:
        print(exc)
"""


def test_without_libyamls_c_extension() -> None:
    out = subprocess.run(
        [sys.executable, "-c", FALLBACK], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert out == [
        "{'a': {'x': '1'}, 'c': [{'x': '1'}, 'on', 31]} f.yaml:2:5 f.yaml:1:8",
        "f.yaml: nested deeper than 64 levels",
        "f.yaml:1:4: an alias (*name) that no anchor (&name) defines",
        "f.yaml:2:4: an anchor name (&name) defined twice (first on line 1): give each its own",
        "f.yaml:2:1: a file holds one YAML document (remove the second '---')",
    ]
