"""How the client's report tells the email plugin's effects, in plain words (avflow.EffectWords)."""

from __future__ import annotations

from avflow import EffectWords

EFFECTS = {
    "email.move": {
        "en": EffectWords("Messages moved", "Messages moved to {folder}: {count}"),
        "it": EffectWords("Messaggi spostati", "Messaggi spostati in {folder}: {count}"),
    },
    "email.copy": {
        "en": EffectWords("Messages copied", "Messages copied to {folder}: {count}"),
        "it": EffectWords("Messaggi copiati", "Messaggi copiati in {folder}: {count}"),
    },
    "email.flag": {
        "en": EffectWords("Messages marked", "Messages marked in {folder}: {count}"),
        "it": EffectWords(
            "Messaggi contrassegnati", "Messaggi contrassegnati in {folder}: {count}"
        ),
    },
    "email.label": {
        "en": EffectWords("Messages labelled", "Messages labelled {label}: {count}"),
        "it": EffectWords("Messaggi etichettati", "Messaggi etichettati {label}: {count}"),
    },
    "email.create_folder": {
        "en": EffectWords("Mail folders created", "Mail folder created: {folder}"),
        "it": EffectWords("Cartelle di posta create", "Cartella di posta creata: {folder}"),
    },
    "email.collect": {
        "en": EffectWords("Attachments collected"),
        "it": EffectWords("Allegati raccolti"),
    },
    "email.forward": {
        "en": EffectWords("Messages forwarded"),
        "it": EffectWords("Messaggi inoltrati"),
    },
    "email.reply": {
        "en": EffectWords("Replies sent"),
        "it": EffectWords("Risposte inviate"),
    },
    "email.draft": {
        "en": EffectWords("Reply drafts written"),
        "it": EffectWords("Bozze di risposta scritte"),
    },
}
