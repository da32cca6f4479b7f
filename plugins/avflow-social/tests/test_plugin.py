"""The plugin is installed through its entry point and uses only avflow's public API."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

AVFLOW = str(Path(sys.executable).parent / "avflow")


def test_entry_point_is_installed() -> None:
    [ep] = [ep for ep in entry_points(group="avflow") if ep.name == "social"]
    assert ep.value == "avflow_social.plugin"


def test_registrations(avflow_harness) -> None:
    reg = avflow_harness.pm.registry
    assert "social.publish" in reg.actions and "social_outbox" in reg.account_types
    assert reg.actions["social.publish"].params.model_json_schema()["type"] == "object"


def test_plugin_imports_only_the_public_api() -> None:
    src = Path(__file__).parents[1] / "src" / "avflow_social"
    private = [
        f"{path.name}: {line.strip()}"
        for path in src.rglob("*.py")
        for line in path.read_text().splitlines()
        if line.strip().startswith(("import avflow.", "from avflow."))
    ]
    assert private == []


def test_help_is_the_docstrings() -> None:
    out = subprocess.run(
        [AVFLOW, "social", "queue", "--help"], capture_output=True, text=True, check=True
    )
    assert "Show CLIENT's posts" in out.stdout and "--at" in out.stdout


def test_builtin_providers_are_registered_by_reference_with_their_own_names() -> None:
    from avflow_social import LazyProvider
    from avflow_social.plugin import BUILTIN

    for name, where, description in BUILTIN:
        provider = LazyProvider(name, f"avflow_social.providers.{where}", description).provider()
        assert (provider.name, provider.description) == (name, description)


def test_a_reference_to_something_else_is_a_plugin_error() -> None:
    import pytest
    from avflow_social import LazyProvider

    import avflow

    for wrong in [
        LazyProvider("mastodon", "avflow_social.provider:ChannelSettings"),  # not a Provider
        LazyProvider("toots", "avflow_social.providers.mastodon:Mastodon"),  # another name
        LazyProvider("mastodon", "avflow_social.providers.mastodon:Nothing"),
    ]:
        with pytest.raises(avflow.PluginError):
            wrong.provider()


def test_an_account_of_a_lazy_provider_is_checked_with_its_model(
    avflow_harness, tmp_path: Path
) -> None:
    import avflow

    atype = avflow_harness.pm.registry.account_types["mastodon"]
    assert isinstance(atype.settings, avflow.lazy)
    assert atype.settings_model.__name__ == "MastodonSettings"
    client = tmp_path / "workflows" / "bloom"
    client.mkdir(parents=True)
    (client / "client.yaml").write_text(
        "name: Bloom\naccounts:\n  toots: { type: mastodon, access_token: x }\n"
    )
    done = subprocess.run(
        [AVFLOW, "--workflows", str(client.parent), "--home", str(tmp_path / "h"), "validate"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "client.yaml:3:" in done.stderr and "base_url" in done.stderr, done.stderr


def test_quiet_windows_accept_what_strptime_accepts() -> None:
    """A channel's ``quiet:`` is checked without strptime, accepting exactly what
    ``strptime(text, "%H:%M")`` accepts on each side of the dash, with the same message."""
    from datetime import datetime

    import pydantic
    from avflow_social import ChannelSettings

    def strptime_ok(text: str) -> bool:
        try:
            datetime.strptime(text, "%H:%M")
        except ValueError:
            return False
        return True

    times = ["7:00", "07:00", "7:5", "23:59", "24:00", "9:60", "19:7", "0:0", "00:00", "007:00"]
    times += [
        "",
        ":",
        "7",
        "7:",
        ":30",
        "7:00 ",
        "7.00",
        "\u0662\u0660:\u0660\u0660",
        "12:345",
        "1a:00",
        "+7:00",
    ]
    accepted = 0
    for start in times:
        for end in ["08:00", *times[:4]]:
            spec = f"{start} - {end}"
            expected = strptime_ok(start.strip()) and strptime_ok(end.strip())
            try:
                ChannelSettings(quiet=[spec])
                ok = True
            except pydantic.ValidationError as exc:
                ok = False
                assert f"{spec!r} is not a window HH:MM-HH:MM" in str(exc)
            assert ok == expected, spec
            accepted += ok
    assert accepted > 20  # both kinds were tried
