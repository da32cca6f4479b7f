"""The types a plugin uses: what it registers, and what its code is handed when it runs.

Everything here is re-exported by ``avflow/__init__.py``; plugins import only from ``avflow``.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from avflow.lazyref import lazy, resolved

if TYPE_CHECKING:
    from avflow.approval_types import Approval
    from avflow.clientinfo import ClientInfo
    from avflow.runtypes import Account, RunInfo, TriggerContext

P = TypeVar("P", bound=BaseModel)
S = TypeVar("S", bound=BaseModel)


@dataclass(frozen=True)
class AccountRef:
    """Marks a parameter as the name of one of the client's accounts.

    Use it as pydantic metadata: ``account: Annotated[str, AccountRef("imap", "maildir")]``.
    `avflow validate` then checks that the client has that account, of one of those types.
    """

    types: tuple[str, ...] = ()

    def __init__(self, *types: str) -> None:
        object.__setattr__(self, "types", tuple(types))


@dataclass(frozen=True)
class EffectWords:
    """How one kind of effect is told to a client, in plain words, in one language.

    ``label`` names the kind in the client report's summary ("Messages moved"); ``text`` says
    what one effect did ("{count} messages moved to the folder {folder}"), its ``{fields}``
    taken from the ``words`` the action passed to `StepContext.effect`. Without ``text`` (or when
    a field is missing) the report shows the label. Paths in ``words`` are relative to the
    client's archive or folder, never the AV's absolute paths.
    """

    label: str
    text: str = ""


@dataclass(frozen=True)
class Action(Generic[P]):
    """A step type, used in a workflow as ``uses: <name>``.

    ``params`` is the pydantic model of the step's ``with:``; it may be
    ``avflow.lazy("package.module:Model")``, imported the first time a workflow uses the action
    (or `avflow schema` lists the actions). Read it through `params_model`.
    ``run(ctx, params)`` returns the step's outputs: a JSON-serialisable mapping (or None).
    ``template_vars`` names the variables the action supplies itself when it renders one of its
    own templates with `StepContext.render` (for example ``file`` for a path template): a
    template in ``with:`` that uses them is left for the action to render, not the engine.
    ``outputs`` (optional) is the pydantic model of those outputs; its fields marked
    `avflow.Personal` name the personal data the audit trail masks (see avflow.personal).
    ``effects`` (optional) tells the client report how to describe the kinds of effect the
    action performs, in plain words per language: ``{kind: {"en": EffectWords(...), "it": ...}}``.
    """

    name: str
    params: type[P] | lazy
    run: Callable[[StepContext, P], Mapping[str, Any] | None]
    description: str = ""
    template_vars: frozenset[str] = frozenset()
    outputs: type[BaseModel] | None = None
    #: for each of ``template_vars`` whose attributes are known, their names: a template that
    #: uses another one (``{{ file.mont }}``) is a validation error with a suggestion; a key
    #: may be a dotted path, for an attribute's attributes (``"file.date"``: ``file.date.yeer``)
    template_attrs: Mapping[str, frozenset[str]] = field(default_factory=dict)
    effects: Mapping[str, Mapping[str, EffectWords]] = field(default_factory=dict)

    @property
    def params_model(self) -> type[P]:
        """The parameters' model, imported first if it was given as `avflow.lazy`."""
        return resolved(self.params)


@dataclass(frozen=True)
class AccountType(Generic[S]):
    """A kind of account a client profile may declare (``type: <name>``).

    ``settings`` is the pydantic model of the account's keys (everything but ``type``). Values
    may be ``${secret:NAME}`` or ``${env:NAME}`` references; they are checked as written at load
    time and resolved only when a step asks for the account. ``settings`` may also be
    ``avflow.lazy("package.module:Model")``: the module is imported the first time a profile
    declares an account of the type (or `avflow schema` lists them). Read the model through
    `settings_model`, which imports it if needed.
    """

    name: str
    settings: type[S] | lazy
    description: str = ""

    @property
    def settings_model(self) -> type[S]:
        """The settings model, imported first if it was given as `avflow.lazy`."""
        model: type[S] = resolved(self.settings)
        return model


@dataclass(frozen=True)
class Trigger(Generic[P]):
    """An event source a workflow may list under ``on: events:`` (``uses: <name>``).

    The service calls ``watch(ctx, params)`` in a thread of its own. It blocks, calls
    ``ctx.fire(payload)`` for each event, and returns soon after ``ctx.stopping`` is set.
    ``params`` (the model of its ``with:``) may be an `avflow.lazy` reference, as an action's:
    read it through `params_model`.
    """

    name: str
    params: type[P] | lazy
    watch: Callable[[TriggerContext, P], None]
    description: str = ""

    @property
    def params_model(self) -> type[P]:
        """The parameters' model, imported first if it was given as `avflow.lazy`."""
        return resolved(self.params)


@dataclass(frozen=True)
class OAuthScopes:
    """The OAuth scopes an account type needs from a provider (``google``, ``microsoft``).

    `avflow auth PROVIDER CLIENT SECRET_NAME` asks for the union of the scopes the client's
    accounts need, so one sign-in covers them all. ``applies``, given an account's settings as
    written in ``client.yaml`` (secrets unresolved), says whether this account uses the provider
    (an IMAP account on Gmail does; one on another host does not); None: every account of the
    type does.
    """

    provider: str
    account_type: str
    scopes: tuple[str, ...]
    applies: Callable[[Mapping[str, Any]], bool] | None = None

    @property
    def name(self) -> str:
        return f"{self.provider}:{self.account_type}"


class Cursor(Protocol):
    """A small persistent key-value store scoped to client + workflow + plugin."""

    def get(self, key: str, default: Any = None) -> Any: ...
    def set(self, key: str, value: Any) -> None: ...
    def delete(self, key: str) -> None: ...


class EffectBatch(Protocol):
    """Effects a step planned with `StepContext.effect_batch`: ``effect()`` as on the step
    context. Use it as a context manager: leaving it releases the intents of planned effects that
    were not performed. See docs/plugins.md, "Many effects at once"."""

    def __enter__(self) -> EffectBatch: ...
    def __exit__(self, *exc: object) -> None: ...

    def effect(
        self,
        key: str,
        description: str,
        perform: Callable[[], Any],
        *,
        kind: str = "",
        reconcile: Callable[[], Any] | None = None,
        idempotent: bool = False,
        scope: str = "run",
        words: Mapping[str, Any] | None = None,
    ) -> Any: ...


class StepContext(Protocol):
    """What an action's ``run`` is handed. See docs/plugins.md for the contract."""

    client: ClientInfo
    run: RunInfo
    step_id: str
    cursor: Cursor
    log: Any  # a structlog BoundLogger carrying client, workflow, run and step

    @property
    def spool(self) -> Path:
        """The run's spool folder: files travel between steps as paths in it."""
        ...

    @property
    def data_dir(self) -> Path:
        """``$AVFLOW_HOME/plugins/<plugin>/``: the plugin's own files (indexes, caches)."""
        ...

    @property
    def dry_run(self) -> bool: ...

    def now(self) -> datetime: ...

    def account(self, name: str) -> Account[Any]: ...

    def render(self, template: str, **variables: Any) -> str: ...

    def effect(
        self,
        key: str,
        description: str,
        perform: Callable[[], Any],
        *,
        kind: str = "",
        reconcile: Callable[[], Any] | None = None,
        idempotent: bool = False,
        scope: str = "run",
        words: Mapping[str, Any] | None = None,
    ) -> Any: ...

    def effect_batch(
        self,
        plan: Iterable[tuple[str, str]],
        *,
        kind: str = "",
        scope: str = "run",
        chunk: int = 100,
    ) -> EffectBatch:
        """The effects this step plans, ``(key, description)`` in the order it will perform them:
        their intents are made durable ``chunk`` at a time instead of one by one."""
        ...

    def effect_status(self, key: str, *, scope: str = "run") -> str | None: ...

    def request_approval(
        self,
        summary: str,
        *,
        preview: Sequence[str] | None = None,
        timeout: float | str | None = None,
        default: str | None = None,
        key: str = "approval",
    ) -> Approval:
        """Wait for a person's decision (docs/approvals.md). Returns the `avflow.Approval`
        once approved; raises `avflow.ApprovalRejected` once rejected, which stops the run as
        ``rejected``. Until someone decides, the run stops here and the step is run again from
        its start when the decision comes: ask before performing effects. ``preview``: what
        this step will do once approved (the following steps' effects are added by the core).
        ``timeout`` is counted in the client's working time (``"1d"``: working days);
        ``default`` (``approve`` or
        ``reject``) is then taken, or, with none, the AV is told. ``key`` tells apart several
        approvals asked by one step. In a dry run it returns at once, as if approved."""
        ...

    def note(self, message: str, **details: Any) -> None: ...


class CommandContext(Protocol):
    """What a plugin's CLI command can reach: see `avflow.command_context`."""

    home: Path
    workflows: Path

    @property
    def project(self) -> Any: ...

    def data_dir(self, plugin: str) -> Path: ...

    def client(self, client_id: str) -> ClientInfo: ...

    def set_secret(self, client_id: str, name: str, value: str) -> None:
        """Store a secret in the client's vault (for sign-in commands that obtain tokens)."""
        ...

    def get_secret(self, client_id: str, name: str) -> str | None:
        """A secret from the client's vault, or None if it has none by that name."""
        ...


def __getattr__(name: str) -> Any:
    """`RunInfo`, `Account`, `EffectRecord` and `TriggerContext` moved to `avflow.runtypes`;
    ``from avflow.api import RunInfo`` still works (plugins import them from ``avflow``).
    `ClientInfo` (`avflow.clientinfo`) is imported on first use."""
    if name in ("RunInfo", "Account", "EffectRecord", "TriggerContext"):
        from avflow import runtypes

        return getattr(runtypes, name)
    if name == "ClientInfo":  # imported when asked for: what a step runs for, not what it registers
        from avflow.clientinfo import ClientInfo

        return ClientInfo
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
