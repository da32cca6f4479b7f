"""The client report's words: its labels per language, and effects told in plain words.

A plugin says how its kinds of effect read to a client with `avflow.EffectWords` on its actions
(``Action.effects``); the report uses the client's ``language`` (``client.yaml``), then English,
and only for a kind no plugin describes, the effect's own description with the AV's folders
taken out of its paths.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from avflow.api import EffectWords

LANGUAGES = ("en", "it")

MONTHS = {
    "en": "January February March April May June July August September October November December",
    "it": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre "
    "dicembre",
}

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "activity report",
        "report_for": "Activity report for",
        "times_in": "Times are in",
        "generated": "Generated",
        "verifies": "The audit trail verifies: {records} records (seq {first}&ndash;{last}), "
        "{checkpoints} signed checkpoints, key",
        "not_verified": "The audit trail does NOT verify:",
        "this_month": "This month: records seq",
        "summary": "Summary by workflow",
        "workflow": "Workflow",
        "runs": "Runs",
        "succeeded": "Succeeded",
        "failed": "Failed",
        "skipped": "Skipped",
        "gated": "Held back",
        "effects_performed": "Effects performed",
        "all_workflows": "All workflows",
        "none": "none",
        "effects": "Effects",
        "when": "Date and time",
        "kind": "Kind",
        "what": "What was done",
        "outcome": "Outcome",
        "no_effects": "No effect was performed this month.",
        "done": "done",
        "confirmed": "done (confirmed after an interruption)",
        "failed_outcome": "failed",
        "footer": "Runs count the runs that finished this month; trial (dry) runs are not "
        'counted. "Held back" counts scheduled runs that gating (working hours, holidays) did not '
        "start. Each figure can be checked against the audit records with the verification "
        "bundle.",
    },
    "it": {
        "title": "rapporto di attività",
        "report_for": "Rapporto di attività di",
        "times_in": "Orari nel fuso",
        "generated": "Generato il",
        "verifies": "Il registro di controllo è integro: {records} voci (n. {first}&ndash;{last}), "
        "{checkpoints} punti di controllo firmati, chiave",
        "not_verified": "Il registro di controllo NON è integro:",
        "this_month": "Questo mese: voci n.",
        "summary": "Riepilogo per flusso di lavoro",
        "workflow": "Flusso di lavoro",
        "runs": "Esecuzioni",
        "succeeded": "Riuscite",
        "failed": "Non riuscite",
        "skipped": "Saltate",
        "gated": "Rinviate",
        "effects_performed": "Operazioni svolte",
        "all_workflows": "Tutti i flussi",
        "none": "nessuna",
        "effects": "Operazioni",
        "when": "Data e ora",
        "kind": "Tipo",
        "what": "Che cosa è stato fatto",
        "outcome": "Esito",
        "no_effects": "Nessuna operazione svolta questo mese.",
        "done": "fatto",
        "confirmed": "fatto (confermato dopo un'interruzione)",
        "failed_outcome": "non riuscito",
        "footer": "Le esecuzioni contano quelle concluse nel mese; le prove (senza effetti) non "
        'sono contate. "Rinviate" conta le esecuzioni programmate che l\'orario di lavoro o le '
        "festività non hanno avviato. Ogni cifra si può verificare sulle voci del registro con "
        "il pacchetto di verifica.",
    },
}


def month_label(month: str, language: str) -> str:
    year, mon = (int(x) for x in month.split("-"))
    return f"{MONTHS.get(language, MONTHS['en']).split()[mon - 1]} {year}"


class Describer:
    """Tells a client what each effect did, in plain words, in the client's language."""

    def __init__(
        self,
        words: Mapping[str, Mapping[str, EffectWords]],
        language: str = "en",
        folders: Iterable[Path] = (),
    ) -> None:
        self.words = words
        self.language = language
        # the AV's folders, longest first: a path under one is shown relative to it
        self.folders = sorted({str(f).rstrip("/") for f in folders if str(f) != "/"}, key=len)[::-1]

    def _words(self, kind: str) -> EffectWords | None:
        table = self.words.get(kind) or {}
        return table.get(self.language) or table.get("en")

    def label(self, kind: str) -> str:
        words = self._words(kind)
        return words.label if words is not None else kind or "other"

    def text(self, kind: str, description: str, given: Mapping[str, Any] | None) -> str:
        words = self._words(kind)
        if words is None:
            return self.relative(description)
        if words.text:
            try:
                return self.relative(_fill(words.text, given or {}))
            except (KeyError, IndexError, ValueError, AttributeError):
                pass  # a field the effect did not give: its label says enough
        return words.label

    def relative(self, text: str) -> str:
        """``text`` with the AV's own folders taken out of the paths in it."""
        for folder in self.folders:
            text = text.replace(folder + "/", "")
            text = re.sub(re.escape(folder) + r"(?![\w-]|\.\w)", ".", text)
        return text


def _fill(template: str, given: Mapping[str, Any]) -> str:
    """``template``'s ``{fields}`` from ``given``: plain names only, no attribute or index."""
    out = []
    for literal, name, spec, _conv in string.Formatter().parse(template):
        out.append(literal)
        if name is not None:
            if not name.isidentifier():
                raise ValueError(name)
            out.append(format(given[name], spec or ""))
    return "".join(out)
