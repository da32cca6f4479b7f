"""How the client's report tells the calendar plugin's effects, in plain words (avflow.EffectWords)."""

from __future__ import annotations

from avflow import EffectWords

EFFECTS = {
    "calendar.book": {
        "en": EffectWords("Appointments booked"),
        "it": EffectWords("Appuntamenti fissati"),
    },
    "calendar.cancel": {
        "en": EffectWords("Appointments cancelled"),
        "it": EffectWords("Appuntamenti annullati"),
    },
    "calendar.hold": {
        "en": EffectWords("Slots held for a proposal"),
        "it": EffectWords("Orari tenuti per una proposta"),
    },
    "calendar.confirm": {
        "en": EffectWords("Proposed appointments confirmed"),
        "it": EffectWords("Appuntamenti proposti confermati"),
    },
    "calendar.reschedule": {
        "en": EffectWords("Appointments moved"),
        "it": EffectWords("Appuntamenti spostati"),
    },
    "calendar.release": {
        "en": EffectWords("Held slots freed"),
        "it": EffectWords("Orari tenuti liberati"),
    },
}
