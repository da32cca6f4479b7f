"""How the client's report tells the archive plugin's effects, in plain words (avflow.EffectWords).

Paths in the words are relative to the client's archive, never the AV's absolute paths.
"""

from __future__ import annotations

from avflow import EffectWords

EFFECTS = {
    "archive.file": {
        "en": EffectWords("Documents filed", "Filed {name} in {folder}"),
        "it": EffectWords("Documenti archiviati", "Archiviato {name} in {folder}"),
    },
    "archive.quarantine": {
        "en": EffectWords("Documents set aside for a check", "Set aside for a check: {name}"),
        "it": EffectWords(
            "Documenti messi da parte da verificare", "Messo da parte da verificare: {name}"
        ),
    },
    "archive.remove_source": {
        "en": EffectWords(
            "Filed documents removed from the drop folder",
            "Removed {name} from the drop folder (it is in the archive)",
        ),
        "it": EffectWords(
            "Documenti archiviati tolti dalla cartella di arrivo",
            "Tolto {name} dalla cartella di arrivo (è nell'archivio)",
        ),
    },
}
