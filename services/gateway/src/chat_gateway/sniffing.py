"""What an uploaded file is, told from its first bytes, and whether its sender said so.

The type a file is shown and served as must be the one its bytes have, never only the one its
sender claimed (docs/gateway.md, "Attachments"): an image the app previews must be exactly the
image it was declared as, and markup or a script (HTML, SVG, XML, a shell or Python script) is
taken only when declared as what it is, so nothing active is ever labelled as something
harmless. Anything else is a file, whatever it was declared as, and keeps the type its bytes
have: a safe label, since a file is always downloaded, never shown.

The bytes are read by libmagic (python-magic), the ``file`` command's library: its rules for
images, markup, interpreter scripts and hundreds of formats have been kept for decades. Pure
Python sniffers missed a ``<script>`` after leading spaces and shell scripts, and one took plain
JavaScript for MATLAB; Pillow tells images only, and a JPEG's size comes after its metadata,
which can be larger than the bytes read. libmagic's C call releases the GIL and takes up to a
few milliseconds for text, so it runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import enum

import magic
import msgspec

from chat_common.errors import ChatError, ErrorCode

# The raster images the app previews (``image: true``): what browsers decode everywhere and the
# media step re-encodes. SVG is markup, a file here.
IMAGE_TYPES = {
    "image/png": "a PNG image",
    "image/jpeg": "a JPEG image",
    "image/gif": "a GIF image",
    "image/webp": "a WebP image",
}
_HTML = frozenset({"text/html", "application/xhtml+xml"})
_SVG = "image/svg+xml"
_XML = frozenset({"text/xml", "application/xml"})
# Interpreted programs, as libmagic names them (from a ``#!`` line or the language's own marks)
# and as browsers and operating systems label such files.
_SCRIPTS = frozenset(
    {
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "text/ecmascript",
        "text/x-shellscript",
        "application/x-shellscript",
        "application/x-sh",
        "text/x-sh",
        "application/x-csh",
        "text/x-python",
        "application/x-python",
        "application/x-python-code",
        "text/x-perl",
        "application/x-perl",
        "text/x-php",
        "application/x-php",
        "application/x-httpd-php",
        "text/x-ruby",
        "application/x-ruby",
        "text/x-lua",
        "text/x-tcl",
        "application/x-tcl",
        "text/x-awk",
        "text/x-msdos-batch",
        "application/x-bat",
        "application/x-msdos-program",
        "text/vbscript",
        "application/x-powershell",
    }
)


class Kind(enum.Enum):
    IMAGE = "image"
    HTML = "HTML"
    SVG = "an SVG image"
    XML = "XML"
    SCRIPT = "a script"
    FILE = "file"


_ACTIVE = frozenset({Kind.HTML, Kind.SVG, Kind.XML, Kind.SCRIPT})
# Which declarations agree with active content: each as itself, XML also as any markup.
_AGREES = {
    Kind.HTML: frozenset({Kind.HTML}),
    Kind.SVG: frozenset({Kind.SVG}),
    Kind.XML: frozenset({Kind.XML, Kind.SVG, Kind.HTML}),
    Kind.SCRIPT: frozenset({Kind.SCRIPT}),
}


def kind_of(media_type: str) -> Kind:
    if media_type in IMAGE_TYPES:
        return Kind.IMAGE
    if media_type in _HTML:
        return Kind.HTML
    if media_type == _SVG:
        return Kind.SVG
    if media_type in _XML or media_type.endswith("+xml"):
        return Kind.XML
    subtype = media_type.partition("/")[2]
    if media_type in _SCRIPTS or subtype.startswith("x-script."):
        return Kind.SCRIPT
    return Kind.FILE


class Verdict(msgspec.Struct, frozen=True):
    """What a file is: the type it is shown and served as, and whether the app previews it."""

    type: str
    image: bool


def verdict(name: str, declared: str, sniffed: str) -> Verdict:
    """The file ``name``, declared as ``declared``, whose bytes libmagic read as ``sniffed``;
    ``bad_request`` naming the file and what is wrong when the two disagree."""
    found, claimed = kind_of(sniffed), kind_of(declared)
    if found is Kind.IMAGE:
        if declared != sniffed:
            raise _refusal(name, f"is {IMAGE_TYPES[sniffed]}, but was declared as {declared}")
        return Verdict(sniffed, image=True)
    if claimed is Kind.IMAGE:
        raise _refusal(
            name, f"was declared as {declared}, but is not {IMAGE_TYPES[declared]} ({sniffed})"
        )
    if found in _ACTIVE and claimed not in _AGREES[found]:
        raise _refusal(name, f"is {found.value} ({sniffed}), but was declared as {declared}")
    return Verdict(sniffed, image=False)


def _refusal(name: str, problem: str) -> ChatError:
    return ChatError(
        ErrorCode.BAD_REQUEST, f"the file {name!r} {problem}: its content does not match its type"
    )


class FileSniffer:
    """libmagic, asked for a media type; one handle, which python-magic locks per call."""

    def __init__(self) -> None:
        # Compressed data is not opened (no MAGIC_COMPRESS): a file is what its own bytes are.
        self._magic = magic.Magic(mime=True)

    def type_of_now(self, head: bytes) -> str:
        """The media type of a file starting with ``head``, on the calling thread."""
        return self._magic.from_buffer(head).partition(";")[0].strip().lower()

    async def type_of(self, head: bytes) -> str:
        return await asyncio.to_thread(self.type_of_now, head)
