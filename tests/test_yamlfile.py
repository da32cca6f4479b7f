"""The one YAML reader: YAML 1.2 values, a position for every node, and hostile files refused."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pytest

from avflow.errors import ConfigError
from avflow.yamlfile import MAX_BYTES, MAX_DEPTH, dump, parse, read_doc

P = Path("wf.yaml")

# plain scalar -> the value YAML 1.2's core schema gives it
VALUES: list[tuple[str, Any]] = [
    ("on", "on"),
    ("off", "off"),
    ("yes", "yes"),
    ("no", "no"),
    ("y", "y"),
    ("true", True),
    ("True", True),
    ("TRUE", True),
    ("false", False),
    ("FALSE", False),
    ("null", None),
    ("Null", None),
    ("~", None),
    ("0", 0),
    ("-3", -3),
    ("+4", 4),
    ("007", 7),
    ("0o17", 15),
    ("0x1F", 31),
    ("0b101", "0b101"),
    ("1_000", "1_000"),
    ("1e5", 100000.0),
    ("-1.5e-3", -0.0015),
    ("3.", 3.0),
    (".5", 0.5),
    (".inf", math.inf),
    ("-.inf", -math.inf),
    ("+.Inf", math.inf),
    ("12:30", "12:30"),
    ("190:20:30", "190:20:30"),
    ("09:00-18:00", "09:00-18:00"),
    ("2026-12-24", "2026-12-24"),
    ("2026-12-24T10:00:00Z", "2026-12-24T10:00:00Z"),
    ("0.1.2", "0.1.2"),
    ("1e", "1e"),
    ("0x", "0x"),
    ("é", "é"),
]


@pytest.mark.parametrize(("text", "value"), VALUES, ids=[v[0] for v in VALUES])
def test_plain_scalars_read_as_yaml_1_2(text: str, value: Any) -> None:
    got = parse(f"k: {text}\n", P).data["k"]
    assert type(got) is type(value)
    assert got == value


def test_nan_and_quoted_scalars() -> None:
    data = parse("a: .nan\nb: 'true'\nc: \"12\"\nd: |\n  on\n", P).data
    assert math.isnan(data["a"])
    assert data["b"] == "true" and data["c"] == "12" and data["d"] == "on\n"


def test_a_bare_on_is_a_key_and_keys_are_the_text_written() -> None:
    data = parse("on:\n  when: always\nyes: 1\n1: x\nnull: y\n", P).data
    assert data == {"on": {"when": "always"}, "yes": 1, "1": "x", "null": "y"}


def test_every_node_has_its_line_and_column() -> None:
    text = (
        "name: x\n"
        "on:\n"
        "  schedule:\n"
        "    - cron: '0 9 * * *'\n"
        "steps:\n"
        "  - uses: core.log\n"
        "    with: {message: hi, n: [1, 2]}\n"
    )
    doc = parse(text, P)

    def at(*loc: str | int) -> tuple[int | None, int | None]:
        where = doc.locate(list(loc))
        return where.line, where.column

    assert at("name") == (1, 1)  # a key that ends the path: the key itself
    assert at("on", "schedule", 0, "cron") == (4, 7)
    assert at("on", "schedule", 0) == (4, 7)
    assert at("steps", 0, "uses") == (6, 5)
    assert at("steps", 0, "with", "message") == (7, 12)
    assert at("steps", 0, "with", "n", 1) == (7, 32)
    assert at("steps", 0, "with", "missing") == (7, 11)  # the deepest node that exists
    assert at("nowhere") == (1, 1)


def test_anchors_aliases_and_merge_keys() -> None:
    text = "base: &b {x: 1, y: [1, 2]}\ncopy: *b\nmerged:\n  <<: *b\n  x: 3\n"
    assert parse(text, P).data == {
        "base": {"x": 1, "y": [1, 2]},
        "copy": {"x": 1, "y": [1, 2]},
        "merged": {"x": 3, "y": [1, 2]},
    }


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("a: 1\na: 2\n", "duplicate key 'a' (first on line 1)", 2),
        ("a: 1\n---\nb: 2\n", "one YAML document", 2),
        ("a: !!python/object:os.system x\n", "unsupported YAML tag", 1),
        ("a: *nowhere\n", "no anchor", 1),
        ("? [1]\n: 2\n", "must be text", 1),
        ("a: [unclosed\nb: 2\n", "YAML syntax error", 2),
        ("steps:\n\t- uses: core.log\n", "a tab character: YAML indents with spaces only", 2),
        (
            "steps:\n  - uses: core.log\n  with: {}\n",
            "to add a key to the item above, indent it like that item's other keys",
            3,
        ),
        ("steps:\n  - uses: core.log\n     with: {}\n", "indented more than the keys above", 3),
    ],
)
def test_mistakes_are_one_line_at_their_position(text: str, message: str, line: int) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text, P)
    assert message in info.value.message
    assert info.value.location is not None and info.value.location.line == line
    assert "\n" not in str(info.value)


def test_dump_round_trips_through_the_reader() -> None:
    data = {"on": {"x": "on", "y": "0o17", "z": "yes", "t": "09:00", "n": "null", "e": ""}}
    data["steps"] = [{"uses": "core.log", "with": {"message": "{{ client.name }}", "n": [1, "2"]}}]
    assert parse(dump(data), P).data == data


# ---- hostile files: refused in one line, quickly, reading nothing they should not


def one_line(exc: pytest.ExceptionInfo[ConfigError]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_deep_nesting_is_one_line_not_a_crash() -> None:
    for text in (
        "[" * 200_000,
        "- " * 100_000 + "x\n",
        "".join(" " * i + "a:\n" for i in range(3000)),
    ):
        with pytest.raises(ConfigError) as info:
            parse(text, P)
        assert f"nested deeper than {MAX_DEPTH} levels" in one_line(info)


def alias_bomb(levels: int = 12) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_stops_at_the_expansion_limit() -> None:
    with pytest.raises(ConfigError) as info:
        parse(alias_bomb(), P)
    assert "aliases expand to more than 10,000 nodes" in one_line(info)


def test_a_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.truncate(50 * 1024 * 1024)  # 50 MB (sparse): refused by its size, before any read
    with pytest.raises(ConfigError) as info:
        read_doc(big)
    assert f"the limit is {MAX_BYTES:,}" in one_line(info)


def test_special_files_and_links_are_refused_unread(tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "shadow"
    secret.parent.mkdir()
    secret.write_text("root:SECRET-HASH:19000:0:99999:7:::\n")
    folder = tmp_path / "client"
    folder.mkdir()
    os.mkfifo(folder / "fifo.yaml")  # would block a plain open() forever
    (folder / "zero.yaml").symlink_to("/dev/zero")
    (folder / "shadow.yaml").symlink_to(secret)
    (folder / "inside.yaml").symlink_to(folder / "fifo.yaml")
    (folder / "dir.yaml").mkdir()
    for name, expected in [
        ("fifo.yaml", "not a regular file"),
        ("zero.yaml", "a symbolic link"),
        ("shadow.yaml", "a symbolic link"),
        ("inside.yaml", "a symbolic link"),
        ("dir.yaml", "not a regular file"),
    ]:
        with pytest.raises(ConfigError) as info:
            read_doc(folder / name)
        text = one_line(info)
        assert expected in text and "nothing was read" in text
        assert "SECRET" not in text


def test_non_utf8_and_binary_content_is_not_echoed(tmp_path: Path) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"name: \xffSECRET\n")
    with pytest.raises(ConfigError) as info:
        read_doc(path)
    assert "not UTF-8" in one_line(info) and "SECRET" not in str(info.value)
    path.write_text("SECRET-A\x00SECRET-B: x\n")
    with pytest.raises(ConfigError) as info:
        read_doc(path)
    assert "SECRET" not in one_line(info)
