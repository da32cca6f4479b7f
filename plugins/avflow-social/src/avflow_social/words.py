"""How the client's report tells the social plugin's effects, in plain words (avflow.EffectWords)."""

from __future__ import annotations

from avflow import EffectWords

EFFECTS = {
    "social.publish": {
        "en": EffectWords("Posts published"),
        "it": EffectWords("Post pubblicati"),
    },
}
