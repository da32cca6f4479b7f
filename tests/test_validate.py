"""`avflow validate` on broken files: every error as file:line:column, exit 2, no traceback.

Each case is a client folder with one mistake. The line the error must point at carries the
marker ``#<`` (for YAML syntax errors the parser's position is given explicitly).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

import avflow
from avflow.cli import main
from avflow.loader import Loader
from avflow.plugins import Registry

PLUGINS_DIR = Path(__file__).parent / "plugins_dir"
GOOD_PROFILE = (
    "name: Test\ntimezone: Europe/Rome\naccounts:\n  box: { type: dummy, user: u, password: p }\n"
)
GOOD_STEP = "steps:\n  - uses: core.log\n    with: { message: hi }\n"

# (case id, file name, content, expected message fragment, explicit line or None for the marker)
CASES: list[tuple[str, str, str, str, int | None]] = [
    (
        "profile-yaml-syntax",
        "client.yaml",
        "name: [unclosed\ntimezone: UTC\n",
        "YAML syntax error",
        2,
    ),
    ("profile-duplicate-key", "client.yaml", "name: a\nname: b #<\n", "duplicate key", None),
    (
        "profile-unknown-key",
        "client.yaml",
        "name: a\ntimezon: UTC #<\n",
        "unknown key 'timezon' (did you mean 'timezone'?)",
        None,
    ),
    (
        "profile-notify-account",
        "client.yaml",
        "name: a\nnotify:\n  email: boss@acme.example\n  account: smtp #<\n",
        "unknown key 'account'",
        None,
    ),
    (
        "profile-bad-timezone",
        "client.yaml",
        "name: a\ntimezone: Europe/Roma #<\n",
        "unknown timezone 'Europe/Roma'",
        None,
    ),
    (
        "profile-bad-day",
        "client.yaml",
        "name: a\nworking_hours:\n  mon-fry: '09:00-18:00' #<\n",
        "unknown day",
        None,
    ),
    (
        "profile-bad-hours",
        "client.yaml",
        "name: a\nworking_hours:\n  mon: '09:00-08:00' #<\n",
        "ends before it starts",
        None,
    ),
    (
        "profile-bad-closed",
        "client.yaml",
        "name: a\nclosed:\n  - 2026-13-01 #<\n",
        "is not a date",
        None,
    ),
    (
        "profile-bad-yearly-closed",
        "client.yaml",
        "name: a\nclosed:\n  - 2026-12-24/2027-01-06\n  - 12-24/13-01 #<\n",
        "is not a day of the year (MM-DD)",
        None,
    ),
    (
        "profile-mixed-closed",
        "client.yaml",
        "name: a\nclosed: [12-24/2027-01-06] #<\n",
        "is not a date",
        None,
    ),
    (
        "profile-bad-language",
        "client.yaml",
        "name: a\nlanguage: klingon #<\n",
        "'en' or 'it'",
        None,
    ),
    (
        "profile-bad-holidays",
        "client.yaml",
        "name: a\nholidays: XX #<\n",
        "unknown holidays country 'XX'",
        None,
    ),
    (
        "profile-unknown-holidays-subdivision",
        "client.yaml",
        "name: a\nholidays: US-ZZ #<\n",
        "holidays: country US has no subdivision 'ZZ' (known: AK, AL, AR,",
        None,
    ),
    (
        "profile-unknown-holidays-subdivision-mapping",
        "client.yaml",
        "name: a\nholidays:\n  country: US\n  subdiv: Californa #<\n",
        "holidays.subdiv: country US has no subdivision 'Californa' (did you mean 'CA'?)",
        None,
    ),
    (
        "profile-holidays-country-in-lower-case",
        "client.yaml",
        "name: a\nholidays: {subdiv: CA,\n  country: us} #<\n",
        "holidays.country: unknown holidays country 'us' (did you mean 'US'?)",
        None,
    ),
    (
        "profile-account-no-type",
        "client.yaml",
        "name: a\naccounts: #<\n  box: { user: u }\n",
        "needs a 'type'",
        None,
    ),
    (
        "profile-unknown-account-type",
        "client.yaml",
        "name: a\naccounts:\n  box: { type: imapp, user: u } #<\n",
        "unknown account type 'imapp'",
        None,
    ),
    (
        "profile-account-missing-setting",
        "client.yaml",
        "name: a\naccounts:\n  box: { type: dummy, user: u } #<\n",
        "missing required key 'password'",
        None,
    ),
    (
        "profile-account-unknown-setting",
        "client.yaml",
        "name: a\naccounts:\n  box:\n    type: dummy\n    user: u\n    password: p\n    pasword: q #<\n",
        "unknown key 'pasword'",
        None,
    ),
    (
        "profile-missing-secret",
        "client.yaml",
        "name: a\naccounts:\n  box: { type: dummy, user: u, password: '${secret:pw}' } #<\n",
        "has no secret 'pw'",
        None,
    ),
    (
        "profile-other-clients-secret",
        "client.yaml",
        "name: a\naccounts:\n  box: { type: dummy, user: u, password: '${secret:acme/pw}' } #<\n",
        "only its own client's secrets",
        None,
    ),
    (
        "profile-bad-env-name",
        "client.yaml",
        "name: a\naccounts:\n  box: { type: dummy, user: '${env:1X}', password: p } #<\n",
        "not an environment variable name",
        None,
    ),
    ("profile-no-name", "client.yaml", "timezone: UTC #<\n", "missing required key 'name'", None),
    ("profile-not-mapping", "client.yaml", "- name: a #<\n", "must be a mapping", None),
    ("profile-wrong-type", "client.yaml", "name: a\nclosed: 2026-12-24 #<\n", "closed", None),
    (
        "wf-yaml-syntax",
        "wf.yaml",
        "steps:\n  - uses: core.log\n     with: {}\n",
        "YAML syntax error",
        3,
    ),
    ("wf-yaml-tab", "wf.yaml", "steps:\n\t- uses: core.log\n", "YAML syntax error", 2),
    ("wf-duplicate-key", "wf.yaml", "steps: []\nsteps: [] #<\n", "duplicate key", None),
    ("wf-no-steps", "wf.yaml", "name: x #<\n", "missing required key 'steps'", None),
    ("wf-empty-steps", "wf.yaml", "steps: [] #<\n", "at least 1 item", None),
    (
        "wf-unknown-key",
        "wf.yaml",
        "name: x\nstep: [] #<\n" + GOOD_STEP,
        "unknown key 'step' (did you mean 'steps'?)",
        None,
    ),
    (
        "wf-unknown-step-key",
        "wf.yaml",
        "steps:\n  - uses: core.log\n    width: {} #<\n",
        "unknown key 'width' (did you mean 'with'?)",
        None,
    ),
    (
        "wf-unknown-action",
        "wf.yaml",
        "steps:\n  - uses: core.logg #<\n    with: { message: hi }\n",
        "unknown action 'core.logg' (did you mean 'core.log'?)",
        None,
    ),
    ("wf-bad-uses-format", "wf.yaml", "steps:\n  - uses: Core Log #<\n", "uses", None),
    (
        "wf-param-unknown",
        "wf.yaml",
        "steps:\n  - uses: core.log\n    with:\n      mesage: hi #<\n",
        "unknown key 'mesage' (did you mean 'message'?)",
        None,
    ),
    (
        "wf-param-missing",
        "wf.yaml",
        "steps:\n  - uses: core.log\n    with: {} #<\n",
        "missing required key 'message'",
        None,
    ),
    (
        "wf-param-type",
        "wf.yaml",
        "steps:\n  - uses: crashy.write\n    with:\n      folder: /tmp/x\n      count: many #<\n",
        "valid integer",
        None,
    ),
    (
        "wf-bad-cron",
        "wf.yaml",
        "on:\n  schedule:\n    - cron: '61 * * * *' #<\n" + GOOD_STEP,
        "invalid cron expression",
        None,
    ),
    (
        "wf-six-field-cron",
        "wf.yaml",
        "on:\n  schedule:\n    - cron: '0 0 9 * * *' #<\n" + GOOD_STEP,
        "five fields",
        None,
    ),
    (
        "wf-bad-when",
        "wf.yaml",
        "on:\n  when: sometimes #<\n" + GOOD_STEP,
        "'always' or 'working_hours'",
        None,
    ),
    (
        "wf-bad-catch-up",
        "wf.yaml",
        "on:\n  catch_up: everything #<\n" + GOOD_STEP,
        "catch_up",
        None,
    ),
    ("wf-bad-grace", "wf.yaml", "on:\n  grace: soon #<\n" + GOOD_STEP, "not a duration", None),
    (
        "wf-duplicate-step-id",
        "wf.yaml",
        "steps:\n  - id: a\n    uses: core.log\n    with: { message: hi }\n  - id: a #<\n    uses: core.log\n    with: { message: hi }\n",
        "duplicate step id 'a'",
        None,
    ),
    (
        "wf-template-syntax",
        "wf.yaml",
        "steps:\n  - uses: core.log\n    with:\n      message: '{{ steps. }}' #<\n",
        "template syntax error",
        None,
    ),
    (
        "wf-template-unknown-var",
        "wf.yaml",
        "steps:\n  - uses: core.log\n    with:\n      message: '{{ customer.name }}' #<\n",
        "unknown variable 'customer'",
        None,
    ),
    (
        "wf-template-later-step",
        "wf.yaml",
        "steps:\n  - id: a\n    uses: core.log\n    with:\n      message: '{{ steps.b.outputs.x }}' #<\n  - id: b\n    uses: core.log\n    with: { message: hi }\n",
        "step 'b', which is not an earlier step",
        None,
    ),
    (
        "wf-template-missing-step",
        "wf.yaml",
        "steps:\n  - uses: core.log\n    with:\n      message: \"{{ steps['nope'].outputs }}\" #<\n",
        "step 'nope'",
        None,
    ),
    (
        "wf-if-unknown-var",
        "wf.yaml",
        "steps:\n  - uses: core.log\n    if: foo > 1 #<\n    with: { message: hi }\n",
        "unknown variable 'foo'",
        None,
    ),
    (
        "wf-unknown-account",
        "wf.yaml",
        "steps:\n  - uses: crashy.leak\n    with:\n      account: mailbox #<\n",
        "has no account 'mailbox' (accounts: box)",
        None,
    ),
    (
        "wf-retry-zero",
        "wf.yaml",
        "steps:\n  - uses: core.log\n    with: { message: hi }\n    retry: { attempts: 0 } #<\n",
        "greater than or equal to 1",
        None,
    ),
    (
        "wf-bad-timeout",
        "wf.yaml",
        "steps:\n  - uses: core.log\n    with: { message: hi }\n    timeout: 5 minutes #<\n",
        "not a duration",
        None,
    ),
    (
        "wf-endless-timeout",
        "wf.yaml",
        "steps:\n  - uses: core.log\n    with: { message: hi }\n    timeout: .inf #<\n",
        "longer than ten years",
        None,
    ),
    (
        "wf-endless-backoff",
        "wf.yaml",
        "steps:\n  - uses: core.log\n    with: { message: hi }\n"
        "    retry: { attempts: 2, max_backoff: 1e308 } #<\n",
        "longer than ten years",
        None,
    ),
    (
        "wf-nan-timeout",
        "wf.yaml",
        "steps:\n  - uses: core.log\n    with: { message: hi }\n    timeout: .nan #<\n",
        "not a duration",
        None,
    ),
    (
        "wf-unknown-trigger",
        "wf.yaml",
        "on:\n  events:\n    - uses: email.new_mal #<\n" + GOOD_STEP,
        "unknown trigger 'email.new_mal'",
        None,
    ),
    ("wf-not-mapping", "wf.yaml", "just a string #<\n", "must be a mapping", None),
    (
        "wf-bad-step-id",
        "wf.yaml",
        "steps:\n  - id: my step #<\n    uses: core.log\n    with: { message: hi }\n",
        "id",
        None,
    ),
    ("wf-bad-enabled", "wf.yaml", "enabled: maybe #<\n" + GOOD_STEP, "valid boolean", None),
    ("wf-steps-not-list", "wf.yaml", "steps: { uses: core.log } #<\n", "valid list", None),
    (
        "wf-yaml-tab-hint",
        "wf.yaml",
        "steps:\n  - uses: core.log\n\t  with: {}\n",
        "a tab character: YAML indents with spaces only",
        3,
    ),
    (
        "wf-top-level-schedule",
        "wf.yaml",
        "schedule: #<\n  - cron: '0 9 * * *'\n" + GOOD_STEP,
        "unknown key 'schedule' ('schedule:' belongs under 'on:': write 'on:' on a line of its "
        "own and indent 'schedule:' below it by two spaces)",
        None,
    ),
    (
        "wf-dedented-with",
        "wf.yaml",
        "steps:\n- uses: core.log\nwith: { message: hi } #<\n",
        "'with:' belongs to a step: indent it under 'steps:'",
        None,
    ),
    (
        "wf-dedented-with-in-list",
        "wf.yaml",
        "steps:\n  - uses: core.log\n  with: { message: hi } #<\n",
        "indent it like that item's other keys",
        None,
    ),
    (
        "profile-misspelt-required-key",
        "client.yaml",
        "nam: a #<\ntimezone: UTC\n",
        "unknown key 'nam' (did you mean 'name'?): 'name' is required and missing",
        None,
    ),
]


def write_case(root: Path, case: tuple[str, str, str, str, int | None]) -> tuple[Path, int]:
    cid, name, content, _, line = case
    folder = root / cid
    folder.mkdir(parents=True)
    if name != "client.yaml":
        (folder / "client.yaml").write_text(GOOD_PROFILE)
    path = folder / name
    path.write_text(content)
    if line is None:
        line = next(i for i, text in enumerate(content.splitlines(), 1) if "#<" in text)
    return path, line


def validate(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "--workflows",
                str(root),
                "--home",
                str(root.parent / "home"),
                "--plugins-dir",
                str(PLUGINS_DIR),
                "validate",
            ]
        )
    return int(exit_info.value.code or 0), capsys.readouterr().err


def test_at_least_forty_distinct_cases() -> None:
    assert len({c[0] for c in CASES}) == len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_each_broken_file(
    tmp_path: Path,
    case: tuple[str, str, str, str, int | None],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")
    path, line = write_case(tmp_path / "workflows", case)
    code, err = validate(tmp_path / "workflows", capsys)
    assert code == 2
    assert "Traceback" not in err
    lines = [entry for entry in err.splitlines() if entry.strip()]
    mine = [entry for entry in lines if entry.startswith(f"{path}:{line}:")]
    assert mine, f"expected an error at {path.name}:{line}, got:\n{err}"
    assert any(case[3] in entry for entry in mine), f"expected {case[3]!r} in:\n{err}"
    for entry in lines:  # every line names a file, line and column
        loc = entry.split(": ", 1)[0]
        assert (
            loc.count(":") == 2 and loc.split(":")[1].isdigit() and loc.split(":")[2].isdigit()
        ), entry


def test_all_errors_reported_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")
    expected = [write_case(tmp_path / "workflows", case) for case in CASES]
    code, err = validate(tmp_path / "workflows", capsys)
    assert code == 2
    for path, line in expected:
        assert f"{path}:{line}:" in err


def test_valid_folder_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")
    folder = tmp_path / "workflows" / "acme"
    folder.mkdir(parents=True)
    (folder / "client.yaml").write_text(GOOD_PROFILE)
    (folder / "wf.yaml").write_text(
        "on:\n  schedule:\n    - cron: '*/10 * * * *'\n  when: working_hours\n" + GOOD_STEP
    )
    main(
        [
            "--workflows",
            str(tmp_path / "workflows"),
            "--home",
            str(tmp_path / "home"),
            "--plugins-dir",
            str(PLUGINS_DIR),
            "validate",
        ]
    )
    assert "ok: 1 clients, 1 workflows" in capsys.readouterr().out


def test_a_workflow_file_with_an_upper_case_suffix_is_named_not_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Inbox.YAML`` was never read and validate said ok: the workflow silently never ran."""
    monkeypatch.setenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")
    folder = tmp_path / "workflows" / "acme"
    folder.mkdir(parents=True)
    (folder / "client.yaml").write_text(GOOD_PROFILE)
    (folder / "Inbox.YAML").write_text(GOOD_STEP)
    code, err = validate(tmp_path / "workflows", capsys)
    assert code == 2
    assert (
        err.strip()
        == f"{folder / 'Inbox.YAML'}: rename Inbox.YAML to Inbox.yaml: the suffix is lower case"
    )


def test_a_home_that_is_not_a_folder_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")
    (tmp_path / "workflows").mkdir()
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    with pytest.raises(SystemExit) as exit_info:
        main(["--workflows", str(tmp_path / "workflows"), "--home", f"{not_a_folder}/home", "runs"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: cannot use {not_a_folder}/home as the home folder: Not a directory"]


def test_one_workflow_in_two_files_and_two_workflows_with_one_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")
    folder = tmp_path / "workflows" / "acme"
    folder.mkdir(parents=True)
    (folder / "client.yaml").write_text(GOOD_PROFILE)
    (folder / "inbox.yaml").write_text("name: Inbox\n" + GOOD_STEP)
    (folder / "inbox.yml").write_text("name: Inbox again\n" + GOOD_STEP)
    (folder / "notes.yaml").write_text("description: x\nname: Inbox\n" + GOOD_STEP)
    code, err = validate(tmp_path / "workflows", capsys)
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [
        f"{folder / 'inbox.yml'}:1:1: inbox.yaml and inbox.yml are both workflow 'inbox': keep one",
        f"{folder / 'notes.yaml'}:2:1: workflow name 'Inbox' is already used by inbox.yaml "
        "(line 1): each workflow of a client needs its own name",
    ]


def test_a_name_with_surrounding_spaces_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`name: "inbox "` beside `name: inbox` would be two names the AV reads as one: a name
    that begins or ends with a space (a tab, a no-break space) is refused at its line."""
    monkeypatch.setenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")
    folder = tmp_path / "workflows" / "acme"
    folder.mkdir(parents=True)
    (folder / "client.yaml").write_text(GOOD_PROFILE)
    (folder / "a.yaml").write_text("name: inbox\n" + GOOD_STEP)
    (folder / "b.yaml").write_text('name: "inbox "\n' + GOOD_STEP)
    (folder / "c.yaml").write_text('description: x\nname: "\\u00a0inbox"\n' + GOOD_STEP)
    (folder / "d.yaml").write_text('name: "  "\n' + GOOD_STEP)
    code, err = validate(tmp_path / "workflows", capsys)
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [
        f"{folder / 'b.yaml'}:1:1: name: 'inbox ' begins or ends with a space: write 'inbox'",
        f"{folder / 'c.yaml'}:2:1: name: '\\xa0inbox' begins or ends with a space: write 'inbox'",
        f"{folder / 'd.yaml'}:1:1: name: '  ' is only spaces: write a name, or leave 'name:' out",
    ]


def test_a_misspelt_required_key_is_one_error_not_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")
    folder = tmp_path / "workflows" / "acme"
    folder.mkdir(parents=True)
    (folder / "client.yaml").write_text("timezone: UTC\nnam: Acme\n")
    code, err = validate(tmp_path / "workflows", capsys)
    assert code == 2
    assert err.strip().splitlines() == [
        f"{folder / 'client.yaml'}:2:1: unknown key 'nam' (did you mean 'name'?): "
        "'name' is required and missing"
    ]


class _FileParams(BaseModel):
    path: str


def test_an_unknown_attribute_of_an_actions_own_variable_gets_a_suggestion(
    tmp_path: Path,
) -> None:
    registry = Registry()
    registry.actions["files.put"] = avflow.Action(
        "files.put",
        _FileParams,
        lambda ctx, params: None,
        template_vars=frozenset({"file"}),
        template_attrs={"file": frozenset({"name", "month", "year"})},
    )
    folder = tmp_path / "acme"
    folder.mkdir()
    (folder / "client.yaml").write_text("name: Acme\n")
    (folder / "wf.yaml").write_text(
        "steps:\n  - uses: files.put\n    with:\n"
        "      path: '{{ file.year }}/{{ file.mont }}/{{ file.name }}'\n"
    )
    (folder / "ok.yaml").write_text(
        "steps:\n  - uses: files.put\n    with: { path: '{{ file.year }}/{{ file.month }}' }\n"
    )
    _, errors = Loader(registry).load(tmp_path)
    assert [str(e) for e in errors] == [
        f"{folder / 'wf.yaml'}:4:7: 'file' has no attribute 'mont' (did you mean file.month?)"
    ]


@pytest.mark.parametrize("quick", [True, False])  # dotted names only, or read by Jinja2
def test_an_unknown_attribute_of_an_attribute_gets_a_suggestion(
    tmp_path: Path, quick: bool
) -> None:
    registry = Registry()
    registry.actions["files.put"] = avflow.Action(
        "files.put",
        _FileParams,
        lambda ctx, params: None,
        template_vars=frozenset({"file"}),
        template_attrs={"file": frozenset({"name", "date"}), "file.date": frozenset({"year"})},
    )
    folder = tmp_path / "acme"
    folder.mkdir()
    (folder / "client.yaml").write_text("name: Acme\n")
    tail = "{{ file.name }}" if quick else "{{ file.name | upper }}"
    (folder / "wf.yaml").write_text(
        "steps:\n  - uses: files.put\n    with:\n"
        f"      path: '{{{{ file.date.yeer }}}}/{{{{ file.date.year.real }}}}/{tail}'\n"
    )
    (folder / "ok.yaml").write_text(
        "steps:\n  - uses: files.put\n    with: { path: '{{ file.date.year }}/{{ file.name }}' }\n"
    )
    _, errors = Loader(registry).load(tmp_path)
    assert [str(e) for e in errors] == [
        f"{folder / 'wf.yaml'}:4:7: 'file.date' has no attribute 'yeer' "
        "(did you mean file.date.year?)"
    ]


@pytest.mark.parametrize(
    ("holidays", "where", "message"),
    [
        ("\n  country: US\n  sub: CA", "4:3", "unknown key 'sub' (did you mean 'subdiv'?)"),
        ("\n  country: US\n  subdiv: ZZ", "4:3", "holidays.subdiv: country US has no subdivision"),
        ("{country: 5}", "2:12", "holidays.country: Input should be a valid string"),
        (
            "[IT]",
            "2:1",
            "holidays: Input should be a valid string, or a valid dictionary or instance of "
            "Holidays",
        ),
    ],
)
def test_a_union_field_gives_one_line_about_the_form_written(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    holidays: str,
    where: str,
    message: str,
) -> None:
    """``holidays:`` is text or a mapping: a mistake in the mapping is not also reported as
    "holidays.str: Input should be a valid string", and points at the key that is wrong."""
    monkeypatch.setenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")
    profile = tmp_path / "workflows" / "acme" / "client.yaml"
    profile.parent.mkdir(parents=True)
    profile.write_text(f"name: a\nholidays: {holidays}\n")
    code, err = validate(tmp_path / "workflows", capsys)
    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith(f"{profile}:{where}: {message}"), line
