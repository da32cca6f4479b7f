"""A country's public-holiday calendar (python `holidays`), importing only that country.

``holidays.country_holidays("IT")`` imports the package ``holidays.countries``, whose first
import brings in all ~250 country modules (about 0.2 s of CPU at every ``avflow validate`` or
``next``). `country_holidays` here finds the country in the package's public registry
(``holidays.registry.COUNTRIES``) and loads just that module, under its usual name; anything
else (a name the registry does not list, a module that is not where it was) goes through
``holidays.country_holidays`` as before, so the answers and the errors stay the package's own.
tests/test_cli_imports.py checks that the fast path is the one taken.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

_LOCK = threading.Lock()
_PACKAGE = "holidays.countries"


def country_holidays(country: str, subdiv: str | None = None, years: int | None = None) -> Any:
    """``holidays.country_holidays(country, subdiv=subdiv, years=years)``, importing only the
    module of ``country``. Raises what that raises (NotImplementedError for an unknown country
    or subdivision)."""
    import holidays

    entity = _entity(country)
    if entity is None:
        return holidays.country_holidays(country, subdiv=subdiv, years=years)
    return entity(years=years, subdiv=subdiv)


def _entity(country: str) -> Any:
    """The class ``holidays.<country>`` names, from its own module; None: ask the package."""
    from holidays.registry import COUNTRIES

    module = next((m for m, names in COUNTRIES.items() if country in names), None)
    if module is None:
        return None
    full = f"{_PACKAGE}.{module}"
    with _LOCK:
        loaded = sys.modules.get(full)
        if loaded is None:
            loaded = _import_alone(full, module)
    return getattr(loaded, country, None) if loaded is not None else None


def _import_alone(full: str, module: str) -> ModuleType | None:
    """Import ``holidays.countries.<module>`` without running the package's ``__init__``
    (which imports every country). A country built on another one (the French or American
    territories) and any country once that package is loaded are imported as usual."""
    import holidays

    path = Path(holidays.__file__).parent / "countries" / f"{module}.py"
    try:
        alone = _PACKAGE not in sys.modules and _PACKAGE not in path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if not alone:
        return importlib.import_module(full)
    spec = importlib.util.spec_from_file_location(full, path)
    if spec is None or spec.loader is None:
        return None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[full] = loaded
    try:
        spec.loader.exec_module(loaded)
    except BaseException:
        del sys.modules[full]
        raise
    return loaded


def problem(country: str, subdiv: str | None = None) -> tuple[str, str] | None:
    """What is wrong with a ``holidays:`` setting (the caller names the setting), in one line
    naming the country or the subdivision that does not exist, with a close name when there is
    one, and which part it is about ("country" or "subdiv"); None if the calendar loads."""
    from holidays.registry import COUNTRIES

    entity = _entity(country)
    if entity is None:
        return (
            "country",
            f"unknown holidays country {country!r} ({_country_hint(country, COUNTRIES)})",
        )
    codes = [str(s) for s in getattr(entity, "subdivisions", ())]
    aliases = {str(k): str(v) for k, v in getattr(entity, "subdivisions_aliases", {}).items()}
    if subdiv is not None and subdiv not in codes and subdiv not in aliases:
        hint = _close(subdiv, codes, aliases)
        if not codes:
            hint = "it has none: write the country alone"
        elif hint is None:
            shown = ", ".join(codes[:20]) + (f", ... ({len(codes)} in all)" if codes[20:] else "")
            hint = f"known: {shown}"
        return "subdiv", f"country {country} has no subdivision {subdiv!r} ({hint})"
    try:
        country_holidays(country, subdiv=subdiv)
    except Exception as exc:  # the package's own refusal, whatever it is
        return (
            "subdiv" if subdiv else "country",
            f"{country}{'-' + subdiv if subdiv else ''}: {exc}",
        )
    return None


def _close(name: str, codes: list[str], aliases: dict[str, str]) -> str | None:
    """``did you mean ...?`` for a subdivision: another case, a name for a code, a close one."""
    import difflib

    folded = {c.casefold(): c for c in codes} | {a.casefold(): v for a, v in aliases.items()}
    if name.casefold() in folded:
        return f"did you mean {folded[name.casefold()]!r}?"
    close = difflib.get_close_matches(name.casefold(), list(folded), n=1)
    return f"did you mean {folded[close[0]]!r}?" if close else None


def _country_hint(country: str, registry: dict[str, tuple[str, ...]]) -> str:
    """A close country, by its code in another case or its English name; else how to write it."""
    import difflib

    by_name: dict[str, str] = {}
    for names in registry.values():
        code = next((n for n in names if len(n) == 2 and n.isupper()), names[0])
        for n in names:
            by_name.setdefault(n.casefold().replace(" ", ""), code)
    key = country.casefold().replace(" ", "").replace("_", "")
    if key in by_name:
        return f"did you mean {by_name[key]!r}?"
    close = difflib.get_close_matches(key, [k for k in by_name if len(k) > 3], n=1)
    if close and len(key) > 3:
        return f"did you mean {by_name[close[0]]!r}?"
    return "use an ISO 3166 code like IT or US, optionally with a subdivision: US-CA"
