"""Why an action, trigger or account type a file names is missing: its plugin did not import,
is blocked, is installed but not loaded, or is not installed at all (docs/plugins.md).

Only called when a name is unknown, so what it looks up (the installed entry points) costs
nothing on a valid project.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from avflow.entrypoints import BLOCK_ENV, DISABLE_AUTOLOAD_ENV, ENTRY_POINT_GROUP
from avflow.plugins import Registry


def not_loaded(registry: Registry) -> dict[str, str]:
    """Plugins that are known of but not loaded: name -> why, in words that follow "is"."""
    off = {name: f"disabled ({why})" for name, why in registry.disabled.items()}
    for name in sorted(registry.blocked):
        off.setdefault(name, f"disabled (blocked by {BLOCK_ENV})")
    if not registry.autoload:
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name not in registry.loaded:
                off.setdefault(ep.name, f"installed but not loaded ({DISABLE_AUTOLOAD_ENV} is set)")
    return off


def _owns(plugin: str, prefix: str) -> bool:
    """Whether a plugin's name is the one its ``prefix.*`` names come from, by the naming
    conventions: entry point ``email``, distribution ``avflow-email``, loose file ``email.py``."""
    return plugin in (prefix, f"avflow-{prefix}", f"avflow_{prefix}", f"avflow_local_{prefix}")


def _close(name: str, known: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(known), n=1)
    return close[0] if close else None


def missing(name: str, kind: str, registry: Registry, known: Iterable[str]) -> str:
    """The end of the one-line error for an unknown action or trigger ``name`` (``kind``:
    "action" or "trigger"), beginning with ": " or " (".

    Names the plugin and why it is not there when it can tell; otherwise a close name, or the
    known ones.
    """
    known = sorted(known)
    prefix = name.partition(".")[0]
    off = not_loaded(registry)
    for plugin, why in off.items():
        if _owns(plugin, prefix):
            return f": plugin {plugin} is {why}"
    close = _close(name, known)
    if prefix in {k.partition(".")[0] for k in known}:  # a loaded plugin's namespace: a typo
        return f" (did you mean {close!r}?)" if close else f" (known: {', '.join(known)})"
    if close:
        return f": no loaded plugin offers {prefix}.* {kind}s (did you mean {close!r}?)"
    if not off:
        return (
            f": no installed plugin offers {prefix}.* {kind}s (plugin {prefix} is not "
            "installed; avflow plugins lists the installed ones)"
        )
    return f": no loaded plugin offers {prefix}.* {kind}s ({_elsewhere(off)})"


def missing_account_type(name: str, registry: Registry, known: Iterable[str]) -> str:
    """The end of the one-line error for an unknown account type, in brackets. Types have no
    prefix, so the plugins that are not loaded are listed: one of them may offer it."""
    known = sorted(known)
    close = _close(name, known)
    hint = f"did you mean {close!r}?" if close else f"known: {', '.join(known) or 'none'}"
    off = not_loaded(registry)
    if off or not known:
        return f" ({hint}; {_elsewhere(off)})"
    return f" ({hint})"


def _elsewhere(off: dict[str, str]) -> str:
    if not off:
        return "is its plugin installed? avflow plugins lists the installed ones"
    unloaded = sorted(p for p, why in off.items() if why.startswith("installed but"))
    parts = [f"plugin {p} is {why}" for p, why in sorted(off.items()) if p not in unloaded]
    if unloaded:
        parts.append(f"{', '.join(unloaded)} ({DISABLE_AUTOLOAD_ENV} is set)")
    return "not loaded: " + "; ".join(parts)
