"""The annotated video's encoder, a process of its own: it reads raw I420 frames from its standard input and writes
H.264 in fragmented MP4 until the input ends. A process rather than a thread, so that encoding (about 3 ms of one
core per 640x448 frame at x264's fastest) never holds the tracking loop's interpreter lock.

    python -m mlcore.video.encoder OUT.mp4 WIDTH HEIGHT FPS < frames.i420

H.264 plays in every browser (OpenCV's wheel has no H.264 encoder, and its VP8 takes 3 to 5 times longer). Each
keyframe closes a fragment, so a job stopped or killed half-way still leaves a playable video.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from typing import Any

CODEC = "libx264"
OPTIONS = {"preset": "ultrafast", "tune": "zerolatency", "threads": "1", "crf": "23"}
CONTAINER_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}


def encode(out: str, width: int, height: int, fps: float) -> int:
    import av
    import numpy as np

    container = av.open(out, "w", options=CONTAINER_OPTIONS)
    stream: Any = container.add_stream(CODEC, rate=Fraction(max(fps, 1.0)).limit_denominator(1001), options=OPTIONS)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    size = width * height * 3 // 2
    frames = 0
    try:
        while len(data := sys.stdin.buffer.read(size)) == size:
            planes = np.frombuffer(data, np.uint8).reshape(height * 3 // 2, width)
            for packet in stream.encode(av.VideoFrame.from_ndarray(planes, format="yuv420p")):
                container.mux(packet)
            frames += 1
        for packet in stream.encode():  # the frames the encoder still holds
            container.mux(packet)
    finally:
        container.close()
    return frames


if __name__ == "__main__":
    target, w, h, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    encode(target, w, h, rate)
