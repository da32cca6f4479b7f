"""The service's YAML cache: same results as the plain loader, errors still located."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sched_helpers import write

from avflow.loader import Loader
from avflow.plugins import PluginManager
from avflow.scheduler import fastload
from avflow.scheduler.fastload import CachingLoader

WF = """\
name: Invoices
on:
  schedule: [{cron: "0 9 * * 1-5"}]
steps:
  - uses: core.log
    with:
      message: "{{ client.name }} {{ run.time }}"
"""


def test_cache_hits_give_the_same_project_and_located_errors(project: Path) -> None:
    registry = PluginManager(autoload=False).registry
    root, cache = project / "workflows", project / "home" / "cache" / "yaml.pickle"
    write(root / "acme/client.yaml", "name: Acme\ntimezone: Europe/Rome\n")
    write(root / "acme/invoices.yaml", WF)
    write(root / "acme/copy.yaml", WF)  # same bytes: one cache entry
    first = CachingLoader(registry, None, cache)
    p1, e1 = first.load(root)
    assert not e1 and first.hits == 1  # the copy hit the entry its twin just made
    second = CachingLoader(registry, None, cache)
    p2, e2 = second.load(root)
    assert not e2 and second.hits == 3
    plain, _ = Loader(registry).load(root)
    for p in (p1, p2):
        assert {w.ref: w.model for w in p.workflows()} == {
            w.ref: w.model for w in plain.workflows()
        }
        assert p.clients["acme"].profile == plain.clients["acme"].profile

    # the same cached bytes now fail a check that depends on something else (the vault): located
    write(root / "acme/secret.yaml", WF.replace("{{ client.name }}", "${secret:token}"))
    loader = CachingLoader(registry, lambda c: ["token"], cache)
    loader.load(root)
    third = CachingLoader(registry, lambda c: [], cache)
    _, errors = third.load(root)
    assert third.hits >= 3
    assert [str(e) for e in errors] == [
        f"{root}/acme/secret.yaml:7:7: client 'acme' has no secret 'token' (avflow secrets set acme token)"
    ]

    # an edit is seen (new bytes), and an error in a new template is located
    write(root / "acme/copy.yaml", WF.replace("run.time", "runn.time"))
    _, errors = CachingLoader(registry, lambda c: ["token"], cache).load(root)
    assert len(errors) == 1 and str(errors[0]).startswith(
        f"{root}/acme/copy.yaml:7:7: template uses unknown variable"
    )


def test_unchanged_files_are_known_by_their_stat_and_edits_are_seen(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = PluginManager(autoload=False).registry
    root, cache = project / "workflows", project / "home" / "cache" / "yaml.pickle"
    write(root / "acme/client.yaml", "name: Acme\ntimezone: Europe/Rome\n")
    wf = write(root / "acme/invoices.yaml", WF)

    # just written: its times are too recent to stand for its bytes, so it is read again
    CachingLoader(registry, None, cache).load(root)
    again = CachingLoader(registry, None, cache)
    again.load(root)
    assert again.hits == 2 and again.unread == 0

    monkeypatch.setattr(fastload, "RACY", 0)  # as if the files were written long ago
    CachingLoader(registry, None, cache).load(root)
    quiet = CachingLoader(registry, None, cache)
    _, errors = quiet.load(root)
    assert not errors and quiet.unread == 2  # neither file opened

    # an edit in place of the same size, its modification time put back: the ctime tells
    before = wf.stat()
    with open(wf, "r+") as f:
        f.write(WF.replace("Invoices", "Invoicez"))
    os.utime(wf, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert wf.stat().st_size == before.st_size and wf.stat().st_mtime_ns == before.st_mtime_ns
    edited = CachingLoader(registry, None, cache)
    p, errors = edited.load(root)
    assert not errors and edited.unread == 1
    assert p.clients["acme"].workflows["invoices"].model.name == "Invoicez"
