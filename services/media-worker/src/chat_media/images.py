"""What the worker does to one image: decode it, turn it upright, re-encode it with nothing but
its pixels (no EXIF, XMP, GPS, comments or text chunks) and make its WebP thumbnail.

Pure and synchronous: it runs in a process of the decoder pool (``decoder.py``), never on the
event loop. Every refusal is a ``Refused`` with its reason, never an exception: whatever Pillow
raises on a file (truncated data, a format it cannot read, a decompression bomb) means the file
is not an image the app can preview, and it is shown as a file instead.
"""

from __future__ import annotations

import io
import typing
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, ImageSequence

from chat_common.envelope import Pixels

# The sniffed type (the attachment's ``type``) decides the format: an image is written back in
# the format it came in, and Pillow may only open that one, so no other decoder ever sees it.
FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}
# Pillow reads a phone's multi-picture JPEG (the photo plus previews) as MPO: the first
# picture is the photo, and it is written back as a plain JPEG.
_READ_AS = {"JPEG": ("JPEG", "MPO"), "PNG": ("PNG",), "GIF": ("GIF",), "WEBP": ("WEBP",)}
THUMBNAIL_TYPE = "image/webp"
# The envelope's bound on a side (chat_common.envelope.Pixels), so a result always fits in it.
MAX_SIDE: int = typing.get_args(Pixels)[1].le
# What survives of an image's info: how it is drawn (transparency, animation timing) and
# nothing that describes it or where it was taken.
_KEPT_INFO = ("transparency", "duration", "loop", "disposal", "background", "blend")
_HAS_ALPHA = ("RGBA", "LA", "PA", "RGBa", "La")


@dataclass(frozen=True, slots=True)
class ImageLimits:
    max_pixels: int
    max_frames: int
    thumbnail_side: int
    jpeg_quality: int
    webp_quality: int


@dataclass(frozen=True, slots=True)
class Processed:
    original: bytes  # in the format it came in, upright, without metadata
    thumbnail: bytes  # WebP, the longest side at most thumbnail_side
    width: int  # of the upright original
    height: int


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str


def process_image(data: bytes, content_type: str, limits: ImageLimits) -> Processed | Refused:
    fmt = FORMATS.get(content_type)
    if fmt is None:
        return Refused(f"{content_type} is not an image type the app previews")
    # Pillow's own guard, in case a frame is larger than the header said: above the limit it
    # warns, above twice it raises. Both are refusals here.
    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _process(data, fmt, limits)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return Refused(f"too many pixels: {exc}"[:300])
    except Exception as exc:  # whatever a decoder raises on this file: it is not an image
        return Refused(f"not decodable: {type(exc).__name__}: {exc}"[:300])


def _process(data: bytes, fmt: str, limits: ImageLimits) -> Processed | Refused:
    with Image.open(io.BytesIO(data), formats=[fmt]) as image:
        if image.format not in _READ_AS[fmt]:
            return Refused(f"read as {image.format}, not {fmt}")
        width, height = image.size
        # Only the header is read so far: the bomb guard comes before any pixel is decoded.
        if width * height > limits.max_pixels:
            return Refused(f"{width}x{height} is above {limits.max_pixels} pixels")
        if max(width, height) > MAX_SIDE:
            return Refused(f"{width}x{height} has a side above {MAX_SIDE} pixels")
        frames = getattr(image, "n_frames", 1) if fmt != "JPEG" else 1
        if frames > limits.max_frames:
            return Refused(f"{frames} frames, above {limits.max_frames}")
        if width * height * frames > limits.max_pixels:
            return Refused(
                f"{frames} frames of {width}x{height} are above {limits.max_pixels} pixels"
            )
        icc_profile = image.info.get("icc_profile")
        if frames > 1:
            pictures = [_upright(frame).convert("RGBA") for frame in ImageSequence.Iterator(image)]
            durations = [picture.info.get("duration", 100) for picture in pictures]
            loop = image.info.get("loop")
        else:
            pictures = [_upright(image)]
            durations, loop = [], None
    first = pictures[0]
    original = _encode(pictures, fmt, limits, icc_profile, durations, loop)
    return Processed(original, _thumbnail(first, limits), first.width, first.height)


def _upright(image: Image.Image) -> Image.Image:
    """The current frame turned as its EXIF orientation says, as a new image whose info keeps
    only what drawing it needs."""
    upright = ImageOps.exif_transpose(image)  # a copy, even when nothing turns
    upright.info = {key: image.info[key] for key in _KEPT_INFO if key in image.info}
    return upright


def _encode(
    pictures: list[Image.Image],
    fmt: str,
    limits: ImageLimits,
    icc_profile: bytes | None,
    durations: list[int],
    loop: int | None,
) -> bytes:
    first = pictures[0]
    options: dict[str, object] = {}
    if icc_profile:
        # Colour, not description: kept, or a wide-gamut photo would look washed out.
        options["icc_profile"] = icc_profile
    if fmt == "JPEG":
        options["quality"] = limits.jpeg_quality
        if first.mode not in ("RGB", "L", "CMYK"):
            first = first.convert("RGB")
    elif fmt == "WEBP":
        options["quality"] = limits.webp_quality
    if len(pictures) > 1:
        options.update(save_all=True, append_images=pictures[1:], duration=durations)
        if loop is not None:
            options["loop"] = loop
    out = io.BytesIO()
    first.save(out, format=fmt, **options)
    return out.getvalue()


def _thumbnail(picture: Image.Image, limits: ImageLimits) -> bytes:
    side = limits.thumbnail_side
    small = picture.copy()
    small.info = {}
    small.thumbnail((side, side), Image.Resampling.LANCZOS)
    alpha = small.mode in _HAS_ALPHA or "transparency" in picture.info
    small = small.convert("RGBA" if alpha else "RGB")
    out = io.BytesIO()
    small.save(out, format="WEBP", quality=limits.webp_quality)
    return out.getvalue()
