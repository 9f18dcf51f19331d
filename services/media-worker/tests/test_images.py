"""What the worker makes of one image (chat_media.images): upright, nothing but its pixels, a
bounded WebP thumbnail; and everything it cannot or must not decode refused, never raised."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from chat_media.images import ImageLimits, Processed, Refused, process_image
from chat_testing.media import (
    BLUE,
    RED,
    animated_gif,
    corrupt_jpeg,
    exif_of,
    jpeg_with_gps,
    metadata_left,
    png_bomb,
    png_with_text,
    webp_with_exif,
)

LIMITS = ImageLimits(
    max_pixels=50_000_000, max_frames=100, thumbnail_side=480, jpeg_quality=85, webp_quality=80
)


def processed(data: bytes, content_type: str, limits: ImageLimits = LIMITS) -> Processed:
    result = process_image(data, content_type, limits)
    assert isinstance(result, Processed), result
    return result


def near(pixel: object, colour: tuple[int, int, int]) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(a - b) < 40 for a, b in zip(pixel[:3], colour, strict=True))


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_a_jpeg_with_gps_comes_out_upright_and_without_any_metadata() -> None:
    source = jpeg_with_gps(1200, 600, orientation=6)
    assert metadata_left(source)
    assert exif_of(source)

    result = processed(source, "image/jpeg")

    assert metadata_left(result.original) == []
    assert exif_of(result.original) == {}
    original = opened(result.original)
    assert original.format == "JPEG"
    assert not {"exif", "xmp", "comment"} & set(original.info)
    # Stored 1200 x 600 lying on its side; shown turned a quarter clockwise: 600 x 1200, the
    # left (red) half now on top.
    assert (result.width, result.height) == original.size == (600, 1200)
    assert near(original.getpixel((300, 100)), RED)
    assert near(original.getpixel((300, 1100)), BLUE)

    thumbnail = opened(result.thumbnail)
    assert thumbnail.format == "WEBP"
    assert thumbnail.size == (240, 480)
    assert near(thumbnail.getpixel((120, 40)), RED)
    assert metadata_left(result.thumbnail) == []
    assert exif_of(result.thumbnail) == {}


def test_a_png_loses_its_text_and_exif_and_keeps_its_transparency() -> None:
    source = png_with_text(300, 200)
    assert metadata_left(source)

    result = processed(source, "image/png")

    assert metadata_left(result.original) == []
    assert exif_of(result.original) == {}
    original = opened(result.original)
    assert original.format == "PNG"
    assert original.size == (300, 200)
    assert original.getpixel((0, 0)) == (0, 0, 0, 0)
    assert near(original.getpixel((10, 100)), RED)
    # Small images are not enlarged.
    assert opened(result.thumbnail).size == (300, 200)
    assert opened(result.thumbnail).mode == "RGBA"


def test_an_animated_gif_keeps_its_frames_and_timing_and_loses_its_comment() -> None:
    source = animated_gif(frames=3)
    assert metadata_left(source)

    result = processed(source, "image/gif")

    assert metadata_left(result.original) == []
    original = Image.open(io.BytesIO(result.original))
    assert original.format == "GIF"
    assert getattr(original, "n_frames", 1) == 3
    durations = []
    for index in range(3):
        original.seek(index)
        durations.append(original.info["duration"])
    assert durations == [100, 200, 300]
    assert opened(result.thumbnail).format == "WEBP"


def test_a_large_webp_loses_exif_and_xmp_and_gets_a_bounded_thumbnail() -> None:
    source = webp_with_exif(2000, 1000)
    assert metadata_left(source)

    result = processed(source, "image/webp")

    assert metadata_left(result.original) == []
    assert exif_of(result.original) == {}
    assert (result.width, result.height) == (2000, 1000)
    assert opened(result.original).format == "WEBP"
    assert opened(result.thumbnail).size == (480, 240)


@pytest.mark.parametrize(
    ("data", "content_type", "reason"),
    [
        (corrupt_jpeg(), "image/jpeg", "not decodable"),
        (jpeg_with_gps(64, 64)[:-300], "image/jpeg", "not decodable"),  # truncated
        (b"GIF89a" + b"\x00" * 10, "image/gif", "not decodable"),
        (png_with_text(), "image/jpeg", "not decodable"),  # not what its type says
        (png_with_text(), "image/svg+xml", "not an image type"),
    ],
    ids=["corrupt", "truncated", "empty-gif", "png-as-jpeg", "svg"],
)
def test_what_cannot_be_decoded_is_refused_with_a_reason(
    data: bytes, content_type: str, reason: str
) -> None:
    result = process_image(data, content_type, LIMITS)
    assert isinstance(result, Refused)
    assert reason in result.reason


@pytest.mark.parametrize(
    ("side", "max_pixels"),
    [(50_000, 50_000_000), (1_200, 1_000_000)],
    ids=["far-above", "just-above"],
)
def test_a_decompression_bomb_is_refused_before_its_pixels_are_decoded(
    side: int, max_pixels: int
) -> None:
    bomb = png_bomb(side, side)
    assert len(bomb) < 200
    limits = ImageLimits(
        max_pixels=max_pixels, max_frames=100, thumbnail_side=480, jpeg_quality=85,
        webp_quality=80,
    )  # fmt: skip
    result = process_image(bomb, "image/png", limits)
    assert isinstance(result, Refused)
    assert result.reason.startswith("too many pixels")
    assert f"{side * side} pixels" in result.reason


def test_the_pixel_limit_counts_every_frame_of_an_animation() -> None:
    limits = ImageLimits(
        max_pixels=64 * 64 * 2, max_frames=100, thumbnail_side=480, jpeg_quality=85,
        webp_quality=80,
    )  # fmt: skip
    result = process_image(animated_gif(frames=3, side=64), "image/gif", limits)
    assert isinstance(result, Refused)
    assert "3 frames" in result.reason
    frames_limited = ImageLimits(
        max_pixels=50_000_000, max_frames=2, thumbnail_side=480, jpeg_quality=85, webp_quality=80
    )
    result = process_image(animated_gif(frames=3, side=64), "image/gif", frames_limited)
    assert isinstance(result, Refused)
    assert "above 2" in result.reason
