"""`ReadStamps`: what a load read, compared with the files and folders once the watch is set up
(the service watches once it has read; docs/operations.md). Real files and folders throughout;
"old" stamps are made by moving the threshold, since no program can set ``st_ctime``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from avflow.loader import Loader
from avflow.plugins import PluginManager
from avflow.readstamps import ReadStamps

PROFILE = "name: Acme\ntimezone: Europe/Rome\n"
WORKFLOW = "on:\n  schedule:\n    - cron: '0 9 * * 1-5'\nsteps:\n  - uses: core.log\n    with: {message: hi}\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    client = tmp_path / "workflows" / "acme"
    client.mkdir(parents=True)
    (client / "client.yaml").write_text(PROFILE)
    (client / "a.yaml").write_text(WORKFLOW)
    (client / ".a.yaml.swp").write_text("an editor's")
    # until the kernel's clock for file times has moved on: a change made by a test then gets
    # another st_ctime (what the margin ensures for real files)
    probe, written = tmp_path / "probe", os.stat(client).st_ctime_ns
    probe.write_text("")
    while os.stat(probe).st_ctime_ns <= written:
        probe.write_text("")
    return tmp_path / "workflows"


def _read(root: Path, old: bool) -> ReadStamps:
    """Load ``root`` recording stamps; ``old``: every stamp counts as older than the margin."""
    stamps = ReadStamps(root)
    if old:
        stamps.since = 2**62  # no stamp is newer: an unchanged stamp proves no change
    loader = Loader(PluginManager(autoload=False).registry, compact=True)
    loader.stamps = stamps
    project, errors = loader.load(root)
    assert errors == [] and len(project.workflows()) == 1
    assert sorted(stamps.files) == [str(root / "acme/a.yaml"), str(root / "acme/client.yaml")]
    assert sorted(stamps.folders) == [str(root), str(root / "acme")]
    return stamps


@pytest.mark.parametrize("old", [True, False])
def test_nothing_changed(root: Path, old: bool) -> None:
    assert not _read(root, old).changed()


@pytest.mark.parametrize("old", [True, False])
def test_an_edit_after_the_read_is_seen(root: Path, old: bool) -> None:
    stamps = _read(root, old)
    (root / "acme/a.yaml").write_text(WORKFLOW.replace("hi", "ho"))  # same size
    assert stamps.changed()


def test_a_recent_file_written_again_unchanged_is_not_a_change(root: Path) -> None:
    stamps = _read(root, old=False)
    (root / "acme/a.yaml").write_text(WORKFLOW)  # st_ctime moves, the text does not
    assert not stamps.changed()


def test_an_old_stamp_that_moved_is_a_change(root: Path) -> None:
    stamps = _read(root, old=True)
    os.utime(root / "acme/a.yaml")  # st_ctime moves: what changed cannot be told
    assert stamps.changed()


@pytest.mark.parametrize("old", [True, False])
@pytest.mark.parametrize(
    "change",
    [
        lambda r: (r / "acme/b.yaml").write_text(WORKFLOW),  # added
        lambda r: (r / "acme/a.yaml").unlink(),  # removed
        lambda r: (r / "acme/a.yaml").rename(r / "acme/c.yaml"),  # renamed
        lambda r: (r / "beta").mkdir(),  # a new client folder
        lambda r: (r / "acme/a.yaml").write_text(WORKFLOW + "#\n"),  # longer
    ],
)
def test_entries_added_removed_or_renamed_are_seen(root: Path, old: bool, change: object) -> None:
    stamps = _read(root, old)
    change(root)  # type: ignore[operator]
    assert stamps.changed()


def test_a_file_replaced_by_another_with_the_same_text_is_a_change_when_old(root: Path) -> None:
    stamps = _read(root, old=True)
    (root / "acme/new").write_text(WORKFLOW)
    (root / "acme/new").replace(root / "acme/a.yaml")  # an editor's atomic save
    assert stamps.changed()


def test_a_file_outside_the_folder_is_not_recorded(root: Path, tmp_path: Path) -> None:
    other = tmp_path / "service.yaml"
    other.write_text("heartbeat: 30\n")
    stamps = ReadStamps(root)
    from avflow.yamlfile import read_doc

    read_doc(other, stamps)
    assert stamps.files == {}
