"""What a file is, from its first bytes (libmagic), and when its declared type is refused."""

from __future__ import annotations

import base64

import pytest

from chat_common.errors import ChatError, ErrorCode
from chat_gateway.sniffing import FileSniffer, Verdict, verdict

# A 1x1 PNG, as a browser would upload it.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(64)
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
SCRIPT_AFTER_SPACES = b"   \n  <script>fetch('/v1/me/rooms')</script>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
SHELL = b"#!/bin/sh\nrm -rf ~\n"
TEXT = b"Minutes of Tuesday: nothing was decided.\n"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


@pytest.mark.parametrize(
    ("head", "media_type"),
    [
        (PNG, "image/png"),
        (GIF, "image/gif"),
        (JPEG, "image/jpeg"),
        (HTML, "text/html"),
        (SCRIPT_AFTER_SPACES, "text/html"),
        (SVG, "image/svg+xml"),
        (SHELL, "text/x-shellscript"),
        (TEXT, "text/plain"),
        (PDF, "application/pdf"),
    ],
)
def test_libmagic_reads_what_a_file_is(head: bytes, media_type: str) -> None:
    assert FileSniffer().type_of_now(head) == media_type


def test_an_image_is_an_image_only_as_exactly_itself() -> None:
    assert verdict("a.png", "image/png", "image/png") == Verdict("image/png", image=True)
    with pytest.raises(ChatError, match=r"'a.png' is a PNG image, but was declared as image/gif"):
        verdict("a.png", "image/gif", "image/png")
    with pytest.raises(ChatError, match="is a JPEG image, but was declared as application/octet"):
        verdict("a.jpg", "application/octet-stream", "image/jpeg")


@pytest.mark.parametrize("sniffed", ["text/html", "image/svg+xml", "text/plain", "application/pdf"])
def test_a_declared_image_whose_bytes_are_anything_else_is_refused(sniffed: str) -> None:
    with pytest.raises(ChatError) as refused:
        verdict("cat.png", "image/png", sniffed)
    assert refused.value.code is ErrorCode.BAD_REQUEST
    assert f"declared as image/png, but is not a PNG image ({sniffed})" in refused.value.message


@pytest.mark.parametrize(
    ("declared", "sniffed"),
    [
        ("text/plain", "text/html"),
        ("application/pdf", "text/html"),
        ("text/plain", "image/svg+xml"),
        ("text/html", "image/svg+xml"),
        ("application/octet-stream", "text/x-shellscript"),
        ("text/plain", "text/xml"),
    ],
)
def test_markup_and_scripts_declared_as_something_else_are_refused(
    declared: str, sniffed: str
) -> None:
    with pytest.raises(ChatError, match=f"but was declared as {declared}"):
        verdict("page", declared, sniffed)


@pytest.mark.parametrize(
    ("declared", "sniffed"),
    [
        ("text/html", "text/html"),
        ("application/xhtml+xml", "text/html"),
        ("image/svg+xml", "image/svg+xml"),
        ("application/xml", "text/xml"),
        ("image/svg+xml", "text/xml"),
        ("application/x-sh", "text/x-shellscript"),
        ("text/x-python", "text/x-script.python"),
    ],
)
def test_markup_and_scripts_declared_as_what_they_are_are_files(
    declared: str, sniffed: str
) -> None:
    assert verdict("page", declared, sniffed) == Verdict(sniffed, image=False)


def test_any_other_file_keeps_the_type_its_bytes_have() -> None:
    assert verdict("a.docx", "application/msword", "application/zip") == Verdict(
        "application/zip", image=False
    )
    # Declared as markup, but its bytes are plain text: it is plain text.
    assert verdict("a.html", "text/html", "text/plain") == Verdict("text/plain", image=False)
    assert verdict("b.svg", "image/svg+xml", "text/plain") == Verdict("text/plain", image=False)
