"""The plugin API: entry-point discovery, blocking, registration errors, docs, scaffolding."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from avflow.errors import PluginError
from avflow.plugins import PluginManager
from avflow.testing import Harness

REPO = Path(__file__).resolve().parents[1]


def test_entry_point_plugin_contributes_an_action(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # avflow-sample is installed (pip install -e tests/sample-plugin), never imported by this test.
    monkeypatch.delenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    pm = PluginManager(block=["email", "archive", "calendar", "social"])
    assert pm.registry.owners["action:sample.shout"] == "sample"
    h = Harness(tmp_path, pm=pm)
    h.client("acme")
    h.workflow(
        "acme", "loud", {"steps": [{"uses": "sample.shout", "with": {"text": "{{ client.id }}"}}]}
    )
    result = h.run("acme/loud")
    assert result.ok, result.error
    assert result.outputs["step1"] == {"text": "ACME!"}


def test_autoload_can_be_disabled_and_plugins_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "sample.shout" not in PluginManager().registry.actions
    monkeypatch.delenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD")
    monkeypatch.setenv("AVFLOW_BLOCK_PLUGINS", "sample")
    assert "sample.shout" not in PluginManager().registry.actions
    assert "core.log" in PluginManager().registry.actions


def test_duplicate_action_is_a_plugin_error(tmp_path: Path) -> None:
    (tmp_path / "dup.py").write_text(
        "import avflow\nfrom pydantic import BaseModel\n"
        "@avflow.hookimpl\ndef register_actions(register):\n"
        "    register(avflow.Action('core.log', BaseModel, lambda c, p: None))\n"
    )
    with pytest.raises(PluginError, match="already registered by core"):
        PluginManager(autoload=False, plugins_dirs=[tmp_path])


def test_misspelled_hook_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "typo.py").write_text(
        "import avflow\n@avflow.hookimpl\ndef register_action(register):\n    pass\n"
    )
    with pytest.raises(PluginError, match="register_action"):
        PluginManager(autoload=False, plugins_dirs=[tmp_path])


def test_a_plugin_that_does_not_import_is_disabled_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import nonexistent_module_xyz\n")
    env = {**os.environ, "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"}
    dirs = ["--plugins-dir", str(tmp_path), "--plugins-dir", str(REPO / "tests" / "plugins_dir")]
    result = subprocess.run(
        [sys.executable, "-m", "avflow", *dirs, "plugins"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("warning: plugin avflow_local_broken disabled: cannot be imported")
    assert "broken.py" in line and "nonexistent_module_xyz" in line
    # `avflow plugins` shows it and why; the other plugins keep working
    assert "avflow_local_broken (disabled: cannot be imported" in result.stdout
    assert "crashy.write" in result.stdout and "core.log" in result.stdout
    listed = subprocess.run(
        [sys.executable, "-m", "avflow", *dirs, "plugins", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    table = json.loads(listed.stdout)
    assert "nonexistent_module_xyz" in table["avflow_local_broken"]["disabled"]
    assert "crashy.write" in table["avflow_local_crashy"]["actions"]


def test_an_entry_point_plugin_that_does_not_import_is_disabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken installed plugin (entry point group ``avflow``) is left out; the rest load."""
    dist = tmp_path / "avflow_ghost-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: avflow-ghost\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[avflow]\nghost = avflow_ghost_missing.plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    pm = PluginManager()
    assert "ghost" in pm.broken and "avflow_ghost_missing" in pm.broken["ghost"]
    assert "email.triage" in pm.registry.actions  # the built-ins still load
    assert pm.warnings() == [f"warning: plugin ghost disabled: {pm.broken['ghost']}"]


def test_every_hook_is_documented() -> None:
    tree = ast.parse((REPO / "src" / "avflow" / "hookspecs.py").read_text())
    hooks = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert {
        "register_actions",
        "register_account_types",
        "register_triggers",
        "register_commands",
        "run_started",
        "step_finished",
        "run_finished",
    } <= set(hooks)
    doc = (REPO / "docs" / "plugins.md").read_text()
    missing = [h for h in hooks if f"`{h}" not in doc]
    assert not missing, f"hooks missing from docs/plugins.md: {missing}"


def test_plugins_command_lists_actions(tmp_path: Path) -> None:
    env = {**os.environ, "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "avflow",
            "--plugins-dir",
            str(REPO / "tests" / "plugins_dir"),
            "plugins",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    table = json.loads(result.stdout)
    assert table["core"]["actions"] == ["core.approval", "core.fail", "core.log", "core.set"]
    assert sorted(table["avflow_local_crashy"]["actions"]) == [
        "crashy.leak",
        "crashy.send",
        "crashy.write",
    ]
    assert table["avflow_local_crashy"]["account_types"] == ["dummy"]


def test_schema_covers_each_action(tmp_path: Path) -> None:
    from avflow.schema import client_schema, workflow_schema

    pm = PluginManager(autoload=False, plugins_dirs=[REPO / "tests" / "plugins_dir"])
    schema = workflow_schema(pm.registry)
    step = schema["$defs"]["Step"]
    assert "core.log" in step["properties"]["uses"]["enum"]
    branch = next(
        b for b in step["allOf"] if b["if"]["properties"]["uses"]["const"] == "crashy.write"
    )
    assert branch["then"]["properties"]["with"]["required"] == ["folder"]
    assert "on" in schema["properties"]
    profile = client_schema(pm.registry)
    assert profile["properties"]["accounts"]["additionalProperties"]["oneOf"][0]["properties"][
        "type"
    ] == {"const": "dummy"}
    json.dumps(schema)


def test_plugin_new_scaffold_writes_a_file_once(tmp_path: Path) -> None:
    """Fast check of the scaffold's action, loaded as a loose plugin (the full kit, in a fresh
    virtual environment, is tests/test_plugin_kit.py)."""
    from avflow.cli import main

    main(["plugin", "new", "hello", "--dir", str(tmp_path)])
    root = tmp_path / "avflow-hello"
    assert (root / "pyproject.toml").read_text().count('hello = "avflow_hello.plugin"') == 1
    pm = PluginManager(autoload=False, plugins_dirs=[root / "src" / "avflow_hello"])
    h = Harness(tmp_path / "h", pm=pm)
    h.client("acme", name="Acme")
    h.workflow(
        "acme",
        "note",
        {
            "steps": [
                {"uses": "hello.write_note", "with": {"folder": "n", "name": "a.txt", "text": "hi"}}
            ]
        },
    )
    result = h.run("acme/note")
    assert result.ok, result.error
    assert (h.workflows / "acme" / "n" / "a.txt").read_text() == "hi"
    assert pm.registry.effect_words["hello.note"]["it"].label == "Note scritte"


@pytest.mark.parametrize("name", ["Hello", "1x", "a-b", "../x", ""])
def test_plugin_new_refuses_a_bad_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    from avflow.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["plugin", "new", name, "--dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "plugin name" in err
    assert not any(tmp_path.iterdir())


def test_plugin_new_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from avflow.cli import main

    (tmp_path / "avflow-hello").mkdir()
    with pytest.raises(SystemExit) as exc:
        main(["plugin", "new", "hello", "--dir", str(tmp_path)])
    assert exc.value.code == 2 and "already exists" in capsys.readouterr().err
    assert not any((tmp_path / "avflow-hello").iterdir())


def test_a_plugin_declares_hooks_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "a_extension.py").write_text(
        "import avflow\n\n@avflow.hookimpl\ndef register_gadgets(register):\n    register('sprocket')\n"
    )
    (tmp_path / "b_host.py").write_text(
        "import sys, types\n"
        "import avflow\n\n"
        "specs = types.ModuleType('host_specs')\n"
        "def register_gadgets(register):\n    'Add gadgets.'\n"
        "specs.register_gadgets = avflow.hookspec(register_gadgets)\n\n"
        "@avflow.hookimpl\ndef register_hookspecs(register):\n    register(specs)\n\n"
        "@avflow.hookimpl\ndef register_actions(register, hook):\n"
        "    found = []\n    hook.register_gadgets(register=found.append)\n"
        "    for name in found:\n"
        "        register(avflow.Action(f'host.{name}', avflow.RunInfo, lambda ctx, p: None))\n"
    )
    pm = PluginManager(autoload=False, plugins_dirs=[tmp_path])
    assert "host.sprocket" in pm.registry.actions
    (tmp_path / "c_typo.py").write_text(
        "import avflow\n\n@avflow.hookimpl\ndef register_gadget(register):\n    pass\n"
    )
    with pytest.raises(PluginError, match="register_gadget"):
        PluginManager(autoload=False, plugins_dirs=[tmp_path])


def test_the_service_runs_with_a_plugin_that_does_not_import(tmp_path: Path) -> None:
    """`avflow run --once` names the broken plugin in one line and runs the other plugins'
    workflows; `validate` says a workflow needing the broken plugin cannot run, and why."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "broken.py").write_text("raise RuntimeError('half-installed')\n")
    shutil.copy(REPO / "tests" / "plugins_dir" / "crashy.py", plugins / "crashy.py")
    workflows, out = tmp_path / "workflows", tmp_path / "out"
    (workflows / "acme").mkdir(parents=True)
    (workflows / "demo.yaml").write_text("first_pass: true\n")  # run each workflow at start
    (workflows / "acme" / "client.yaml").write_text("name: Acme\ntimezone: UTC\n")
    (workflows / "acme" / "files.yaml").write_text(
        f"steps: [{{uses: crashy.write, with: {{folder: '{out}', count: 2}}}}]\n"
    )
    env = {**os.environ, "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"}
    base = [sys.executable, "-m", "avflow", "--plugins-dir", str(plugins)]
    base += ["--workflows", str(workflows), "--home", str(tmp_path / "home")]
    done = subprocess.run(
        [*base, "run", "--once", "--no-watch"], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    why = f"cannot be imported ({plugins / 'broken.py'}): RuntimeError: half-installed"
    warnings = [line for line in done.stderr.splitlines() if "disabled" in line]
    assert warnings == [f"warning: plugin avflow_local_broken disabled: {why}"]
    assert sorted(p.name for p in out.glob("file*")) == ["file1.txt", "file2.txt"]

    (workflows / "acme" / "broken.yaml").write_text("steps: [{uses: broken.thing}]\n")
    checked = subprocess.run([*base, "validate"], capture_output=True, text=True, env=env)
    assert checked.returncode == 2
    assert checked.stderr.splitlines()[-1] == (
        f"{workflows / 'acme' / 'broken.yaml'}:1:10: unknown action 'broken.thing': "
        f"plugin avflow_local_broken is disabled ({why})"
    )


def test_a_dependency_missing_at_registration_disables_the_plugin(tmp_path: Path) -> None:
    (tmp_path / "lazy.py").write_text(
        "import avflow\nfrom pydantic import BaseModel\n"
        "@avflow.hookimpl\ndef register_actions(register):\n"
        "    register(avflow.Action('lazy.one', BaseModel, lambda c, p: None))\n"
        "@avflow.hookimpl\ndef register_account_types(register):\n"
        "    import not_installed_xyz  # noqa: F401\n"
    )
    pm = PluginManager(autoload=False, plugins_dirs=[tmp_path, REPO / "tests" / "plugins_dir"])
    assert "not_installed_xyz" in pm.broken["avflow_local_lazy"]
    assert "lazy.one" not in pm.registry.actions  # nothing of it is left half-registered
    assert "action:lazy.one" not in pm.registry.owners
    assert "crashy.write" in pm.registry.actions and "avflow_local_lazy" not in pm.plugin_names()
