"""What one image costs the media worker: seconds and peak memory of ``process_image`` for a
12- and a 50-megapixel photo. Prints figures; asserts nothing.

    uv run --all-packages python services/media-worker/tests/bench_images.py

Each size is measured in a process of its own (as the decoder pool runs it), so the peak
resident memory is that image's. The pixels are noise: the hardest case for JPEG, which makes
the files as large as a photo's of the same size, and larger.
"""

from __future__ import annotations

import io
import resource
import statistics
import subprocess
import sys
import time

from PIL import Image

from chat_media.images import ImageLimits, Processed, process_image

LIMITS = ImageLimits(
    max_pixels=50_000_000, max_frames=1_000, thumbnail_side=480, jpeg_quality=85, webp_quality=80
)
SIZES = ((4000, 3000), (8160, 6120))
ROUNDS = 3


def measure(width: int, height: int) -> None:
    source = Image.effect_noise((width, height), 64).convert("RGB")
    encoded = io.BytesIO()
    source.save(encoded, "JPEG", quality=90)
    data = encoded.getvalue()
    del source, encoded
    seconds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        result = process_image(data, "image/jpeg", LIMITS)
        seconds.append(time.perf_counter() - started)
    assert isinstance(result, Processed), result
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{width}x{height} ({width * height / 1e6:.0f} MP, a {len(data) / 1e6:.1f} MB JPEG):"
        f" median {statistics.median(seconds):.2f} s, best {min(seconds):.2f} s of {ROUNDS};"
        f" peak RSS {peak_mb:.0f} MB; re-encoded {len(result.original) / 1e6:.1f} MB,"
        f" thumbnail {len(result.thumbnail) / 1e3:.0f} kB"
    )


def main() -> None:
    if len(sys.argv) == 3:
        measure(int(sys.argv[1]), int(sys.argv[2]))
        return
    for width, height in SIZES:
        subprocess.run([sys.executable, __file__, str(width), str(height)], check=True)


if __name__ == "__main__":
    main()
