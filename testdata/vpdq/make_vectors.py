#!/usr/bin/env python3
"""Makes the vPDQ test videos and their expected hashes (the anchor: PyPI `vpdq`).

Needs `ffmpeg` (Debian bookworm's 5.1, with libx264 and libvpx) and PyPI `vpdq` built against
the same FFmpeg libraries (`pip install vpdq`: it builds from source; it needs libavformat-dev,
libavcodec-dev, libswscale-dev, libavutil-dev, libavdevice-dev, libavfilter-dev, cmake and a
C++ compiler). Run from anywhere:

    python3 testdata/vpdq/make_vectors.py            # videos (only if missing) and expected.json
    python3 testdata/vpdq/make_vectors.py --force    # remake the videos too

The videos are made with `-bitexact` and one encoder thread so that a rerun gives the same
files; expected.json always comes from `vpdq.computeHash` on the committed files, so the test
vectors stay valid whatever a rerun's encoder produces.

expected.json: one object per (video, options): `features` as
[frame_number, quality, hash, timestamp] with the timestamp exactly as vpdq returns it (a
double holding a float32 quotient), and `signal`, python-threatexchange's signal string
(`vpdq_to_json`: a JSON list of "hash,quality,timestamp" with f"{timestamp:.3}").
timestamps.json: [timestamp, f"{timestamp:.3}"] pairs over two hours at 24, 25, 29.97 and 60 fps.
"""

import json
import pathlib
import struct
import subprocess
import sys

import vpdq

HERE = pathlib.Path(__file__).resolve().parent
VIDEOS = HERE / "videos"

X264 = ["-c:v", "libx264", "-preset", "medium", "-threads", "1", "-pix_fmt", "yuv420p"]
COMMON = ["-hide_banner", "-loglevel", "error", "-y"]
BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1"]

# name -> ffmpeg arguments after the common ones (inputs and outputs, output path last).
SOURCES = {
    # The base clip: testsrc2 (moving pattern, colour bars, a counter), 160x120, 25 fps, 6 s.
    "testsrc2.mp4": ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=6", *X264, "-crf", "23"],
    # A second, unrelated clip: a Mandelbrot zoom, 128x96, 30000/1001 fps (NTSC), 5 s.
    "mandelbrot.mp4": ["-f", "lavfi", "-i", "mandelbrot=size=128x96:rate=30000/1001", "-t", "5", *X264, "-crf", "23"],
}

# Edits of the base clip: name -> (filter or None, encoder arguments).
EDITS = {
    "testsrc2-lowrate.mp4": (None, [*X264, "-b:v", "60k"]),
    "testsrc2-vp9.webm": (None, ["-c:v", "libvpx-vp9", "-threads", "1", "-b:v", "150k", "-deadline", "good", "-cpu-used", "4"]),
    "testsrc2-mpeg4.avi": (None, ["-c:v", "mpeg4", "-threads", "1", "-q:v", "5"]),
    "testsrc2-mjpeg.avi": (None, ["-c:v", "mjpeg", "-threads", "1", "-q:v", "5", "-pix_fmt", "yuvj420p"]),
    "testsrc2-resized.mp4": ("scale=96:72", [*X264, "-crf", "23"]),
    "testsrc2-hflip.mp4": ("hflip", [*X264, "-crf", "23"]),
    "testsrc2-cut.mp4": ("trim=start_frame=7,setpts=PTS-STARTPTS", [*X264, "-crf", "23"]),
    "testsrc2-watermark.mp4": ("drawbox=x=124:y=102:w=30:h=12:color=white@0.5:t=fill", [*X264, "-crf", "23"]),
}


def make_videos(force: bool) -> None:
    VIDEOS.mkdir(exist_ok=True)
    for name, args in SOURCES.items():
        out = VIDEOS / name
        if force or not out.exists():
            subprocess.run(["ffmpeg", *COMMON, *args, *BITEXACT, str(out)], check=True)
    base = VIDEOS / "testsrc2.mp4"
    for name, (vf, enc) in EDITS.items():
        out = VIDEOS / name
        if force or not out.exists():
            filt = ["-vf", vf] if vf else []
            subprocess.run(["ffmpeg", *COMMON, "-i", str(base), *filt, *enc, *BITEXACT, str(out)], check=True)
    # Audio as stream 0 and video as stream 1: the reference never drains the decoder then
    # (its drain packet has stream index 0), so the last frames the decoder holds are lost.
    out = VIDEOS / "audio-first.mp4"
    if force or not out.exists():
        subprocess.run(
            ["ffmpeg", *COMMON, "-f", "lavfi", "-i", "sine=frequency=440:duration=4",
             "-f", "lavfi", "-i", "testsrc2=size=128x96:rate=24:duration=4",
             "-map", "0:a", "-map", "1:v", *X264, "-crf", "23", "-c:a", "aac", "-b:a", "32k",
             *BITEXACT, str(out)],
            check=True,
        )


def compact(f) -> str:
    # python-threatexchange VpdqCompactFeature.__str__
    return f"{f.hex},{f.quality},{f.timestamp:.{3}}"


def expected() -> list:
    cases = [(p.name, {}) for p in sorted(VIDEOS.iterdir())]
    cases += [
        ("testsrc2.mp4", {"seconds_per_hash": 0.0}),
        ("mandelbrot.mp4", {"seconds_per_hash": 0.5}),
        ("testsrc2.mp4", {"downsample_width": 64, "downsample_height": 48}),
        ("testsrc2-vp9.webm", {"seconds_per_hash": 0.0}),
        ("audio-first.mp4", {"seconds_per_hash": 0.0}),
    ]
    out = []
    for name, opts in cases:
        feats = vpdq.computeHash(str(VIDEOS / name), thread_count=1, **opts)
        out.append({
            "video": name,
            "seconds_per_hash": opts.get("seconds_per_hash", 1.0),
            "width": opts.get("downsample_width", 0),
            "height": opts.get("downsample_height", 0),
            "features": [[f.frame_number, f.quality, f.hex, f.timestamp] for f in feats],
            "signal": json.dumps([compact(f) for f in feats]),
        })
    return out


def timestamps() -> list:
    # Timestamps as vpdq computes them (float32 frame / float32 rate) over two hours of frames
    # at common rates, with python-threatexchange's f"{t:.3}" text.
    f32 = lambda x: struct.unpack("f", struct.pack("f", x))[0]
    out = []
    for rate in (24.0, 25.0, 30000 / 1001, 60.0):
        for n in range(0, 2 * 3600 * 60, 997):
            t = f32(f32(float(n)) / f32(rate))
            out.append([t, f"{t:.{3}}"])
    return out


def main() -> None:
    make_videos("--force" in sys.argv)
    (HERE / "timestamps.json").write_text(json.dumps(timestamps()) + "\n")
    vectors = expected()
    # One vector per line, diff-friendly and small.
    lines = ",\n".join(json.dumps(v) for v in vectors)
    (HERE / "expected.json").write_text(f"[\n{lines}\n]\n")
    total = sum(p.stat().st_size for p in VIDEOS.iterdir())
    print(f"{len(vectors)} vectors, {sum(len(v['features']) for v in vectors)} frames, "
          f"{total} bytes of video")


if __name__ == "__main__":
    main()
