"""The libyaml fast path reads every file exactly as ruamel (YAML 1.2) does, or declines."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from avflow.fastyaml import Unsupported, load_plain
from avflow.yamlfile import load_yaml, plain

ROOT = Path(__file__).resolve().parents[1]

SCALARS = [
    "on",
    "yes",
    "no",
    "off",
    "y",
    "n",
    "Y",
    "N",
    "True",
    "TRUE",
    "true",
    "False",
    "FALSE",
    "false",
    "null",
    "Null",
    "NULL",
    "~",
    "0",
    "-0",
    "+0",
    "00",
    "007",
    "0755",
    "12",
    "-3",
    "+4",
    "1_000",
    "1__0",
    "0o17",
    "0O17",
    "0x1F",
    "0X1f",
    "0b101",
    "1e5",
    "1E5",
    "1e+5",
    "1.5e3",
    "-1.5e-3",
    "3.",
    ".5",
    "-.5",
    "+.5",
    "1.0",
    ".inf",
    "-.inf",
    "+.Inf",
    ".NaN",
    ".nan",
    "12:30",
    "9:05",
    "190:20:30",
    "09:00-18:00",
    "2026-12-24",
    "2026-1-2",
    "2026-12-24T10:00:00Z",
    "2026-12-24t10:00:00.5+01:00",
    "1-5",
    "*/15",
    "mon-fri",
    "hello",
    "é",
    "0.1.2",
    "1,000",
    "$5",
    "-x",
    "+x",
    ".x",
    "x.",
    "1e",
    "1e-",
    "0x",
    "0o",
    "0xG",
    "0o8",
    "=",
]


def same(a: Any, b: Any) -> bool:
    """Equal values of equal types all the way down (True == 1 is not good enough here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and a != a:
        return b != b
    return bool(a == b)


def check(tmp_path: Path, text: str) -> bool:
    """True when the fast path read ``text``; fails when it read it differently from ruamel."""
    path = tmp_path / "f.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        fast = load_plain(text)
    except Unsupported:
        return False
    slow = plain(load_yaml(path))
    assert same(fast, slow), f"{text!r}: fast {fast!r} != ruamel {slow!r}"
    return True


def test_every_yaml_file_of_the_project_reads_the_same(tmp_path: Path) -> None:
    files = [
        p
        for pattern in ("workflows/**/*.yaml", "tests/**/*.yaml", "plugins/*/tests/**/*.yaml")
        for p in ROOT.glob(pattern)
        if ".venv" not in p.parts
    ]
    read = sum(check(tmp_path, p.read_text(encoding="utf-8")) for p in files)
    assert files and read >= len(files) * 0.9  # nearly all take the fast path


@pytest.mark.parametrize("scalar", SCALARS)
def test_plain_scalars_resolve_as_yaml_1_2(tmp_path: Path, scalar: str) -> None:
    check(tmp_path, f"key: {scalar}\nlist: [{scalar}, x]\nblock:\n  - {scalar}\n")


def test_what_it_reads(tmp_path: Path) -> None:
    cases = [
        "name: Acme\non: {schedule: [{cron: '0 9 * * 1-5'}]}\n",  # `on` is a key, not true
        'a: "quoted: 1"\nb: \'007\'\nc: "\\u00e9\\t"\n',
        "text: |\n  line one\n  line two\n\nfolded: >-\n  one\n  two\n",
        "base: &b {x: 1}\nuse: *b\n",  # an alias gives the same data again
        "# comment only\nkey:   # null value\nnested:\n  deeper:\n    - [1, 2.5, null, true]\n",
        "\ufeffname: with a byte-order mark\r\nother: crlf line ends\r\n",
        "",  # an empty file is None
        "just a string\n",
        "when: 2026-12-24\nat: 10:00\n",  # dates and times stay text
    ]
    for text in cases:
        assert check(tmp_path, text), text


def test_what_it_leaves_to_ruamel(tmp_path: Path) -> None:
    declined = [
        "a: 1\na: 2\n",  # duplicate key: ruamel reports it with its line
        "base: &b {x: 1}\nuse:\n  <<: *b\n",  # merge key
        "a: !!str 1\n",  # explicit tag
        "a: !custom x\n",
        "? [complex, key]\n: v\n",
        "1: integer key\n",
        "---\na: 1\n---\nb: 2\n",  # two documents
        "a: [unclosed\n",  # a syntax error: ruamel gives its line
        "a: 0x1F\n",  # numbers it does not convert itself
        "a: 1_000\n",
        "a: .inf\n",
        "a: b\u2028c\n",  # a line break in YAML 1.1 only
    ]
    for text in declined:
        with pytest.raises(Unsupported):
            load_plain(text)


def test_random_scalars_never_read_differently(tmp_path: Path) -> None:
    """Whatever the fast path accepts, ruamel accepts too, with the same value and type."""
    rnd = random.Random(2026)
    alphabet = "0123456789+-._:eExXoObn tTrRuUfFaAlLsSyY"
    scalars = {"".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 7))) for _ in range(800)}
    read = sum(check(tmp_path, f"k: {s}\n") for s in sorted(scalars) if s.strip())
    assert read > 400  # most are read: the comparison ran on them
