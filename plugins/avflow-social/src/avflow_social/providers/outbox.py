"""A file outbox: each post becomes a JSON file in a folder (the demo's channel, or a hand-off
to another tool). Media are copied in first; a post is found again by its key."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import avflow
from avflow_social.provider import (
    Outgoing,
    Provider,
    ProviderError,
    Published,
    Target,
)
from avflow_social.providers.outbox_settings import OutboxSettings


def _folder(target: Target) -> Path:
    """The outbox folder, through avflow's confinement (the client's folder and its roots),
    checked once per publishing pass."""
    if "folder" not in target.cache:
        try:
            folder = avflow.confined_folder(target.client, target.settings.folder, create=True)
        except avflow.PathRefused as exc:
            raise ProviderError(f"outbox folder: {exc}") from None
        target.cache["folder"] = folder
    return target.cache["folder"]


class Outbox(Provider):
    """Writes ``<folder>/<post>--<channel>.json``; ``media/`` holds the uploaded files."""

    name = "social_outbox"
    description = "A folder of JSON files, one per post and channel (demo, hand-off)."
    settings = OutboxSettings

    def _path(self, target: Target, out: Outgoing) -> Path:
        return _folder(target) / f"{out.post}--{out.channel}.r{_rev(out.key)}.json"

    def publish(self, target: Target, out: Outgoing) -> Published:
        path = self._path(target, out)
        media = path.parent / "media"
        uploaded = []
        copied = target.cache.setdefault("media", {})  # file -> its name, copied in this pass
        for m in out.media:  # media first, as a network takes them
            name = copied.get(m.path)
            if name is None:
                data = m.path.read_bytes()
                name = hashlib.sha256(data).hexdigest()[:16] + m.path.suffix.lower()
                media.mkdir(parents=True, exist_ok=True)
                if not (media / name).exists():
                    shutil.copyfile(m.path, media / name)
                copied[m.path] = name
            uploaded.append({"file": f"media/{name}", "alt": m.alt, "type": m.mime})
        doc = {
            "key": out.key,
            "post": out.post,
            "channel": out.channel,
            "publish_at": out.publish_at.isoformat(),
            "text": out.text,
            "link": out.link,
            "title": out.title,
            "slug": out.slug,
            "tags": list(out.tags),
            "excerpt": out.excerpt,
            "body": out.body if out.title else None,
            "media": uploaded,
        }
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1))
        except FileNotFoundError:  # the folder was removed during the pass
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1))
        os.replace(tmp, path)
        return Published(out.key, path.as_uri())

    def lookup(self, target: Target, out: Outgoing) -> Published | None:
        path = self._path(target, out)
        try:
            found = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return Published(out.key, path.as_uri()) if found.get("key") == out.key else None


def _rev(key: str) -> str:
    return key.rsplit(":r", 1)[-1]
