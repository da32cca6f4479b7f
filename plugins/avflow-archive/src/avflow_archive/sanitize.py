"""Making names safe: every file name and template value becomes one harmless path component.

Two layers. `clean_component` turns any text (an attachment's name, a sender, a subject) into a
single file-name component: Unicode NFC, no separators, no control or bidirectional-override
characters, no Windows-reserved names, no leading dots, at most 255 UTF-8 bytes with the
extension kept. `archive_path` then reads a *rendered* path template: the separators the
template itself wrote make folders, but an absolute path or a ``..`` component means the
template would leave the archive, and the caller quarantines the file instead.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

from pathvalidate import sanitize_filename

MAX_COMPONENT_BYTES = 255
MAX_PATH_BYTES = 1024
FALLBACK = "unnamed"

# Reserved on Windows whatever the extension (CON.txt is CON): a NAS share may be read from
# Windows, so the archive avoids them everywhere.
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CLOCK$", "CONIN$", "CONOUT$"}
    | {f"COM{i}" for i in range(10)}
    | {f"LPT{i}" for i in range(10)}
    | {"COM¹", "COM²", "COM³", "LPT¹", "LPT²", "LPT³"}
)
_SEPARATORS = re.compile(r"[/\\]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_BARE_EXT = re.compile(r"\.[^.\s]{1,16}")


def _percent_errors(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(f"%{b:02X}" for b in bad), exc.end


codecs.register_error("avflow.percent", _percent_errors)


def decode_bytes(raw: bytes) -> str:
    """A name as bytes, as text: itself if it is valid UTF-8, else percent-escaped.

    In a name that is not valid UTF-8, every byte that is not part of a valid UTF-8 character
    becomes ``%XX`` (two upper-case hex digits) and every ``%`` becomes ``%25``, so that
    ``urllib.parse.unquote_to_bytes`` gives back the bytes on disk: ``\\xff\\xfe.pdf`` is
    ``%FF%FE.pdf``. See docs/archive.md ("Names that are not UTF-8").
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.replace(b"%", b"%25").decode("utf-8", errors="avflow.percent")


def decode_name(name: str) -> str:
    """A name (or path) read from the file system, where Python keeps undecodable bytes as lone
    surrogates (``os.fsdecode``), as text fit for display, filing and the index (`decode_bytes`)."""
    if name.isascii() or not _SURROGATES.search(name):
        return name
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte: keep its bytes
        raw = name.encode("utf-8", "surrogatepass")
    return decode_bytes(raw)


_SPACES = re.compile(r"\s+")


def _visible(ch: str) -> bool:
    # Cc control, Cf format (bidi overrides, zero-width), Cs surrogates, Co private use,
    # Cn unassigned: none belongs in a file name a person reads.
    return unicodedata.category(ch)[0] != "C"


def _truncate(name: str, limit: int = MAX_COMPONENT_BYTES) -> str:
    """Cut ``name`` to ``limit`` UTF-8 bytes, keeping a short extension."""
    if len(name.encode()) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext.encode()) > 16:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    budget = limit - len(suffix.encode())
    out = stem.encode()[:budget].decode("utf-8", errors="ignore")
    return out + suffix


_PLAIN = re.compile(r"[A-Za-z0-9_@+=,()-][A-Za-z0-9 _.@+=,()-]{0,200}[A-Za-z0-9_@+=,()-]")


def clean_component(value: object, *, fallback: str = FALLBACK) -> str:
    """Return ``value`` as one safe file-name component (never empty, ``.`` or ``..``)."""
    raw = decode_name("" if value is None else str(value))
    if (
        _PLAIN.fullmatch(raw)
        and raw.split(".", 1)[0].rstrip(" ").upper() not in _RESERVED
        and "  " not in raw
    ):
        return raw  # the common case, already safe: plain ASCII, no leading or trailing dot
    text = unicodedata.normalize("NFC", raw)
    text = "".join(ch if _visible(ch) else (" " if ch in "\t\r\n" else "") for ch in text)
    text = _SEPARATORS.sub("_", text)
    text = _SPACES.sub(" ", text).strip(" ")
    if _BARE_EXT.fullmatch(text) and not raw.lstrip().startswith("."):
        text = FALLBACK + text  # what stood before the extension was invisible: keep a stem
    text = _truncate(text.strip(" "))  # first, so that the extension is what survives
    text = sanitize_filename(
        text, platform="universal", replacement_text="_", max_len=MAX_COMPONENT_BYTES
    )
    text = _truncate(text.strip(" ."))
    text = text.strip(" .")
    if not text:
        return fallback
    stem = text.split(".", 1)[0].rstrip(" ").upper()
    if stem in _RESERVED:
        head, dot, rest = text.partition(".")
        text = _truncate(f"{head}_{dot}{rest}")
    return text


@dataclass(frozen=True)
class Checked:
    """A rendered path template, read: either a safe relative path or the reason it is not."""

    path: PurePosixPath | None
    reason: str | None = None


def archive_path(rendered: str) -> Checked:
    """Read a rendered path template as a path inside the archive.

    Folders come only from the template's own separators (values were cleaned before
    rendering, so they cannot add any). The path is refused, with a reason, if it is absolute,
    climbs with ``..``, is empty, or is too long; otherwise every component is cleaned.
    """
    text = unicodedata.normalize("NFC", rendered)
    if "\x00" in text:
        return Checked(None, "the path contains a NUL character")
    stripped = text.strip()
    if stripped.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", stripped):
        return Checked(None, f"the path is absolute ({_show(stripped)})")
    if stripped.startswith("~"):
        return Checked(None, f"the path points into a home folder ({_show(stripped)})")
    raw_parts = _SEPARATORS.split(stripped)
    for part in raw_parts:
        # printable ASCII has no invisible character to drop: compared as it is
        seen = part if part.isascii() and part.isprintable() else "".join(filter(_visible, part))
        if seen.strip() == "..":
            return Checked(
                None, f"the path climbs out of the archive with '..' ({_show(stripped)})"
            )
    parts = []
    for part in raw_parts:
        if part.strip() in ("", "."):
            continue
        parts.append(clean_component(part))
    if not parts:
        return Checked(None, "the path template rendered to an empty path")
    path = PurePosixPath(*parts)
    if len(str(path).encode()) > MAX_PATH_BYTES:
        return Checked(None, f"the path is longer than {MAX_PATH_BYTES} bytes")
    return Checked(path)


def numbered(path: PurePosixPath, n: int) -> PurePosixPath:
    """``Fatture/x.pdf`` -> ``Fatture/x (2).pdf`` for n = 2 (n = 1 is the path itself)."""
    if n <= 1:
        return path
    name = path.name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    suffix = f" ({n})" + (f".{ext}" if ext else "")
    stem_budget = MAX_COMPONENT_BYTES - len(suffix.encode())
    stem = stem.encode()[:stem_budget].decode("utf-8", errors="ignore")
    return path.with_name(stem + suffix)


def _show(text: str, limit: int = 80) -> str:
    """A short, printable rendition of a hostile path for messages."""
    shown = "".join(ch if _visible(ch) else f"\\u{ord(ch):04x}" for ch in text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
