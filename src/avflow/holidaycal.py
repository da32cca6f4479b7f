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
