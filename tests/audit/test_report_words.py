"""The client report in the client's language: plain words from the plugins, relative paths,
the last complete month by default, written into the home folder's reports."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from avflow.clock import FakeClock
from avflow.plugins import PluginManager
from avflow.testing import Harness

PLUGIN = """
from pathlib import Path
from pydantic import BaseModel, ConfigDict
import avflow

class P(BaseModel):
    model_config = ConfigDict(extra="forbid")
    folder: str
    name: str

def store(ctx, p):
    target = avflow.confine(ctx.client, p.folder) / p.name
    ctx.effect(
        f"store:{p.name}", f"write {target} (set \\\\Seen)",
        lambda: target.write_text("x") and None,
        kind="words.store", words={"name": p.name, "folder": p.folder},
    )
    ctx.effect(f"other:{p.name}", f"touch {target}", lambda: None, kind="words.other")
    ctx.effect(f"plain:{p.name}", f"copy {target}", lambda: None, kind="words.unknown")

WORDS = {
    "words.store": {
        "en": avflow.EffectWords("Documents filed", "Filed {name} in {folder}"),
        "it": avflow.EffectWords("Documenti archiviati", "Archiviato {name} in {folder}"),
    },
    "words.other": {"en": avflow.EffectWords("Files checked", "Checked {missing}")},
}

@avflow.hookimpl
def register_actions(register):
    register(avflow.Action("words.store", P, store, effects=WORDS))
"""


def run_cli(h: Harness, plugins: Path, *args: str) -> tuple[int, str, str]:
    from avflow.cli import main

    argv = ["--workflows", str(h.workflows), "--home", str(h.home), "--plugins-dir", str(plugins)]
    with CliRunner().isolation() as streams:
        try:
            main([*argv, *args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        return code, streams[0].getvalue().decode(), streams[1].getvalue().decode()


@pytest.fixture
def words_harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Harness:
    monkeypatch.setenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "wordsplugin.py").write_text(PLUGIN)
    h = Harness(
        tmp_path / "h",
        pm=PluginManager(autoload=False, plugins_dirs=[plugins]),
        clock=FakeClock("2026-01-15T10:00:00+00:00"),
    )
    archive = h.workflows / "acme" / "data" / "Archivio"
    archive.mkdir(parents=True)
    h.client(
        "acme",
        name="Acme S.r.l.",
        timezone="Europe/Rome",
        language="it",
        accounts={},
        roots=[],
    )
    h.workflow(
        "acme",
        "file",
        {
            "name": "Archivio",
            "steps": [
                {"uses": "words.store", "with": {"folder": "data/Archivio", "name": "f.pdf"}}
            ],
        },
    )
    result = h.run("acme/file")
    assert result.ok, result.error
    return h


def test_the_report_speaks_the_clients_language_without_internal_words(
    words_harness: Harness,
) -> None:
    h = words_harness
    plugins = h.workflows.parent.parent / "plugins"
    code, out, err = run_cli(h, plugins, "audit", "report", "acme", "--month", "2026-01")
    assert code == 0, out + err
    html = (h.home / "reports" / "acme" / "acme-activity-2026-01.html").read_text()
    assert f"wrote {h.home / 'reports' / 'acme' / 'acme-activity-2026-01.html'}" in out
    assert '<html lang="it">' in html and "gennaio 2026" in html
    assert "Archiviato f.pdf in data/Archivio" in html and "Documenti archiviati: 1" in html
    # no Italian words for words.other: English ones, and its label when a field is missing
    assert "Files checked" in html
    # a kind no plugin describes: its description, with the AV's folders taken out
    assert "copy data/Archivio/f.pdf" in html
    for internal in ("\\Seen", "set \\", str(h.workflows), "/tmp", "words.store:"):
        assert internal not in html, internal
    assert not re.search(r">\s*words\.(store|other)\s*<", html)


def test_the_report_defaults_to_the_last_complete_month(words_harness: Harness) -> None:
    h = words_harness
    plugins = h.workflows.parent.parent / "plugins"
    code, out, err = run_cli(h, plugins, "audit", "report", "acme", "--no-bundle")
    assert code == 0, out + err
    now = datetime.now(ZoneInfo("Europe/Rome"))
    year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    path = h.home / "reports" / "acme" / f"acme-activity-{year:04d}-{month:02d}.html"
    assert path.is_file() and str(path) in out
    assert (path.parent.stat().st_mode & 0o777) == 0o700


def test_describer_paths_fields_and_fallbacks() -> None:
    from avflow import EffectWords
    from avflow.audit.report_text import Describer

    words = {
        "k.file": {
            "en": EffectWords("Filed", "Filed {name}"),
            "it": EffectWords("Archiviati", "Archiviato {name}"),
        },
        "k.evil": {"en": EffectWords("Evil", "{name.__class__} {0}")},
    }
    d = Describer(words, "it", [Path("/srv/acme/archive"), Path("/srv/acme")])
    assert d.text("k.file", "", {"name": "a.pdf"}) == "Archiviato a.pdf"
    assert d.text("k.file", "", {}) == "Archiviati"  # a missing field: the label
    assert d.text("k.evil", "", {"name": "x"}) == "Evil"  # no attribute or index lookups
    assert d.label("k.other") == "k.other"
    assert (
        d.text("k.other", "copy /srv/acme/archive/2026/a.pdf to /srv/acme/out", None)
        == "copy 2026/a.pdf to out"
    )
    assert d.relative("/srv/acme2/x and /srv/acme.") == "/srv/acme2/x and .."
