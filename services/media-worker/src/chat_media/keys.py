"""Where an upload's files live in the bucket (one bucket per deployment)."""

from __future__ import annotations

import uuid

ORIGINALS = "originals/"
THUMBNAILS = "thumbnails/"
_THUMBNAIL_SUFFIX = ".webp"


def original_key(upload_id: uuid.UUID) -> str:
    return f"{ORIGINALS}{upload_id}"


def thumbnail_key(upload_id: uuid.UUID) -> str:
    return f"{THUMBNAILS}{upload_id}{_THUMBNAIL_SUFFIX}"


def upload_of(key: str) -> uuid.UUID | None:
    """The upload an object belongs to, or None for a key no upload could have written."""
    if key.startswith(ORIGINALS):
        name = key.removeprefix(ORIGINALS)
    elif key.startswith(THUMBNAILS) and key.endswith(_THUMBNAIL_SUFFIX):
        name = key.removeprefix(THUMBNAILS).removesuffix(_THUMBNAIL_SUFFIX)
    else:
        return None
    try:
        parsed = uuid.UUID(name)
    except ValueError:
        return None
    # Only the canonical spelling: "originals/{UUID}" in upper case is another object.
    return parsed if str(parsed) == name else None
