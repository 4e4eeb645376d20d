"""Reading and writing video files and frame folders (PyAV), and an in-memory codec round trip.

Frames are F x H x W x 3 uint8 RGB everywhere. Encoders this PyAV wheel (av 18.1.1, FFmpeg
libavcodec 62) has, checked with av.codec.Codec(name, "w"): libx264 yes, libx265 yes,
libsvtav1 yes (SVT-AV1 4.3), libvpx-vp9 yes, ffv1 yes, libaom-av1 NO (AV1 is libsvtav1 only;
decoding AV1 uses libdav1d). There is no ffmpeg binary: everything goes through PyAV.

- read_video / probe_video: any file FFmpeg demuxes; decoded to RGB with swscale's default
  (BT.601, limited range, the same convention the writer uses).
- read_frame_folder: *.png / *.jpg / *.jpeg in one folder (Vid4, REDS: one folder per clip),
  in natural name order (frame2 before frame10; equals plain name order for zero-padded names).
- write_video: atomic (irn.atomic.atomic_path: a temp file in the same folder, renamed at the
  end), the container from the extension (CONTAINERS), each codec's settings from CODECS.
  ffv1 stores RGB (bgr0) losslessly; x264 at crf 0 in yuv444p is lossless in YUV only (the
  RGB -> YUV -> RGB conversion rounds, +-1 level).
- Odd sizes: 4:2:0 needs even sizes. write_video and encode_decode replicate the last row /
  column up to even; write_video records the true size in the container's `comment` tag
  ("irn-size WxH", kept by mp4, mkv, mov, avi, webm) and read_video crops back to it, so our
  own files round-trip at their exact size (other players show the padded frame).
- encode_decode: the lossy round trip in memory (the elementary stream in a BytesIO) with
  single-threaded encoder settings, so the same input gives the same bits (x264: 0
  differences in 3000 calls at 64 x 64 and 34 x 50; on 33 x 49 white noise about 1 call in
  500 differed by a few bytes under load, cause not found, input planes identical. vp9 and
  SVT-AV1 repeat; x265 varied by < 1 % at 64 x 64, one CTU, but repeated at 192 x 192).
"""
from __future__ import annotations

import io
import os
import re
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from irn.atomic import atomic_path
from irn.data.sources import EXTENSIONS as FRAME_EXTENSIONS, DataError, read_image

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".y4m")
# extension -> (FFmpeg muxer, codecs we write into it, the default codec)
CONTAINERS = {
    ".mp4": ("mp4", ("libx264", "libx265", "libvpx-vp9", "libsvtav1"), "libx264"),
    ".mkv": ("matroska", ("libx264", "libx265", "libvpx-vp9", "libsvtav1", "ffv1"), "libx264"),
    ".mov": ("mov", ("libx264", "libx265"), "libx264"),
    ".avi": ("avi", ("libx264", "ffv1"), "libx264"),
    ".webm": ("webm", ("libvpx-vp9", "libsvtav1"), "libvpx-vp9"),
    ".y4m": ("yuv4mpegpipe", ("rawvideo",), "rawvideo"),
}
# codec -> default pixel format, CRF range (None: no CRF), default preset (None: none)
CODECS = {
    "libx264": ("yuv420p", (0, 51), "medium"),
    "libx265": ("yuv420p", (0, 51), "medium"),
    "libvpx-vp9": ("yuv420p", (0, 63), "4"),     # preset = cpu-used, 0 (slow) .. 8
    "libsvtav1": ("yuv420p", (1, 63), "8"),      # preset 0 (slow) .. 13
    "ffv1": ("bgr0", None, None),                # lossless RGB
    "rawvideo": ("yuv444p", None, None),         # y4m
}
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                "slower", "veryslow", "placebo")  # x265 has the same names
PRESET_NUMBERS = {"libvpx-vp9": range(0, 9), "libsvtav1": range(0, 14)}
SUBSAMPLED = ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "nv12", "nv16", "yuv420p10le",
              "yuva420p", "yuv411p", "yuv410p", "yuv440p")
SIZE_TAG = "irn-size"


class VideoError(DataError):
    """Missing, unreadable, empty or inconsistent video; one line naming the path."""


def _line(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


# ---------------------------------------------------------------- reading

def _recorded_size(metadata) -> tuple[int, int] | None:
    """(W, H) of our comment tag, any key case (Matroska upper-cases it)."""
    for key, value in dict(metadata).items():
        if key.lower() == "comment":
            m = re.fullmatch(rf"{SIZE_TAG} (\d+)x(\d+)", str(value).strip())
            if m:
                return int(m.group(1)), int(m.group(2))
    return None


def _open(path: str):
    if not os.path.exists(path):
        raise VideoError(f"video not found: {path}")
    if not os.path.isfile(path):
        raise VideoError(f"not a video file: {path}")
    try:
        container = av.open(path)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise VideoError(f"cannot read video {path}: {_line(exc)}") from None
    if not container.streams.video:
        container.close()
        raise VideoError(f"cannot read video {path}: no video stream")
    return container


def probe_video(path) -> dict:
    """{"width", "height", "fps", "codec"} from the headers only (no decoding): the cheap
    check that a file is a video, made before any model is loaded."""
    path = os.fspath(path)
    with _open(path) as c:
        s = c.streams.video[0]
        size = _recorded_size(c.metadata) or (s.codec_context.width, s.codec_context.height)
        rate = s.average_rate or s.guessed_rate
        return {"width": size[0], "height": size[1], "fps": float(rate) if rate else 25.0,
                "codec": s.codec_context.name}


def read_video(path) -> np.ndarray:
    """Every frame of a video file: F x H x W x 3 uint8 RGB (frame rate: probe_video)."""
    path = os.fspath(path)
    with _open(path) as c:
        try:
            frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise VideoError(f"cannot decode video {path}: {_line(exc)}") from None
        size = _recorded_size(c.metadata)
    if not frames:
        raise VideoError(f"no frames decoded from {path}")
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise VideoError(f"frames of different sizes in {path}: "
                         + ", ".join(f"{s[1]}x{s[0]}" for s in sorted(shapes)))
    out = np.stack(frames)
    if size and size[0] <= out.shape[2] and size[1] <= out.shape[1]:
        out = np.ascontiguousarray(out[:, : size[1], : size[0]])
    return out


def frame_files(path) -> list[Path]:
    """The frame images of one folder, in natural name order."""
    folder = Path(path)
    return sorted((p for p in folder.iterdir() if p.is_file()
                   and p.suffix.lower() in FRAME_EXTENSIONS), key=lambda p: _natural_key(p.name))


def read_frame_folder(path) -> np.ndarray:
    """A folder of PNG / JPEG frames (one clip), in natural name order: F x H x W x 3 uint8."""
    folder = Path(path)
    if not folder.exists():
        raise VideoError(f"frame folder not found: {folder}")
    if not folder.is_dir():
        raise VideoError(f"not a folder: {folder}")
    files = frame_files(folder)
    if not files:
        raise VideoError(f"no PNG/JPEG frames in {folder}")
    frames = []
    for p in files:
        try:
            frame = read_image(p)
        except DataError as exc:
            raise VideoError(_line(exc)) from None
        except Exception as exc:  # Pillow: UnidentifiedImageError, OSError, ...
            raise VideoError(f"cannot read frame {p}: {_line(exc)}") from None
        if frames and frame.shape != frames[0].shape:
            h0, w0 = frames[0].shape[:2]
            raise VideoError(f"frames of different sizes in {folder}: {files[0].name} is "
                             f"{w0}x{h0}, {p.name} is {frame.shape[1]}x{frame.shape[0]}")
        frames.append(frame)
    return np.stack(frames)


def is_video_file(path) -> bool:
    return os.path.splitext(os.fspath(path))[1].lower() in VIDEO_EXTENSIONS


def read_clip(path, min_frames: int = 1) -> np.ndarray:
    """A clip: a folder -> read_frame_folder, a video file -> read_video. VideoError for a
    missing path, another kind of file, or fewer than `min_frames` frames."""
    path = os.fspath(path)
    if os.path.isdir(path):
        clip = read_frame_folder(path)
    elif not os.path.exists(path):
        raise VideoError(f"clip not found: {path}")
    elif not is_video_file(path):
        raise VideoError(f"not a video file ({' '.join(VIDEO_EXTENSIONS)}) or a frame "
                         f"folder: {path}")
    else:
        clip = read_video(path)
    if len(clip) < min_frames:
        raise VideoError(f"clip {path} has {len(clip)} frame(s); at least {min_frames} needed")
    return clip


def clip_folders(path) -> list[tuple[str, str]]:
    """(name, path) of the clips under a root, sorted by name: subfolders holding frames
    (REDS / Vid4: ROOT/<clip>/00000000.png) and video files directly under ROOT. A root that
    is itself a video file or a frame folder is one clip."""
    root = Path(path)
    if not root.exists():
        raise VideoError(f"clips not found: {root}")
    if root.is_file():
        if not is_video_file(root):
            raise VideoError(f"not a video file ({' '.join(VIDEO_EXTENSIONS)}) or a folder "
                             f"of clips: {root}")
        return [(root.stem, str(root))]
    clips = []
    for p in sorted(root.iterdir(), key=lambda p: _natural_key(p.name)):
        if p.is_dir() and frame_files(p):
            clips.append((p.name, str(p)))
        elif p.is_file() and is_video_file(p):
            clips.append((p.stem, str(p)))
    if not clips and frame_files(root):
        return [(root.name, str(root))]
    if not clips:
        raise VideoError(f"no clips in {root}: expected frame folders (ROOT/<clip>/*.png) "
                         f"or video files ({' '.join(VIDEO_EXTENSIONS)})")
    return clips


# ---------------------------------------------------------------- writing

def parse_bitrate(value) -> int:
    """'500k', '2M', '800000' or an int -> bits per second; ValueError otherwise."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        rate = int(value)
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", str(value))
        if not m:
            raise ValueError(f"bitrate {value!r}: give bits per second, e.g. 500k or 2M")
        rate = int(float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[m.group(2).lower()])
    if rate <= 0:
        raise ValueError(f"bitrate must be > 0, got {value!r}")
    return rate


def check_preset(codec: str, preset) -> None:
    """x264 / x265: a preset name; vp9 (cpu-used) and SVT-AV1: a number in range, or an x264
    name, which means the codec's default (_options)."""
    if preset is None or CODECS[codec][2] is None:
        return
    text = str(preset)
    if codec in PRESET_NUMBERS and text.isdigit():
        if int(text) not in PRESET_NUMBERS[codec]:
            r = PRESET_NUMBERS[codec]
            raise ValueError(f"{codec} preset must be {r.start}..{r.stop - 1}, got {text}")
    elif text not in X264_PRESETS:
        raise ValueError(f"unknown preset {text!r} for {codec}: "
                         + (", ".join(X264_PRESETS) if codec not in PRESET_NUMBERS
                            else f"a number {PRESET_NUMBERS[codec].start}.."
                                 f"{PRESET_NUMBERS[codec].stop - 1}"))


def check_codec(codec: str, crf=None, bitrate=None, preset=None) -> None:
    """ValueError (one line) unless `codec` is one we write and this FFmpeg has, and crf /
    bitrate / preset fit it."""
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; choose from {', '.join(CODECS)}")
    try:
        av.codec.Codec(codec, "w")
    except Exception:
        raise ValueError(f"this PyAV build has no {codec} encoder") from None
    if crf is not None and bitrate is not None:
        raise ValueError("give a CRF or a bitrate, not both")
    crf_range = CODECS[codec][1]
    if crf is not None:
        if crf_range is None:
            raise ValueError(f"{codec} is lossless: it takes no CRF")
        if not (isinstance(crf, (int, np.integer)) and crf_range[0] <= crf <= crf_range[1]):
            raise ValueError(f"{codec} CRF must be an integer in {crf_range[0]}..{crf_range[1]},"
                             f" got {crf!r}")
    if bitrate is not None:
        if crf_range is None:
            raise ValueError(f"{codec} is lossless: it takes no bitrate")
        parse_bitrate(bitrate)
    check_preset(codec, preset)


def check_video_target(path, codec: str | None = None) -> tuple[str, str]:
    """(muxer, codec) for writing `path`: ValueError, before any work, for an extension we
    do not write, a missing folder, or a codec the container cannot hold."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in CONTAINERS:
        raise ValueError(f"video output must end in {', '.join(CONTAINERS)}: {path}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"output folder does not exist: {folder}")
    if os.path.isdir(path):
        raise ValueError(f"output is a folder: {path}")
    fmt, allowed, default_codec = CONTAINERS[ext]
    codec = codec or default_codec
    if codec not in allowed:
        raise ValueError(f"{ext} holds {', '.join(allowed)}, not {codec}")
    check_codec(codec)
    return fmt, codec


def _check_frames(frames) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise ValueError(f"frames must be F x H x W x 3 uint8 with F >= 1, got "
                         f"{frames.shape} {frames.dtype}")
    return frames


def _pad_even(frames: np.ndarray, pix_fmt: str) -> np.ndarray:
    """Replicate the last row / column so both sides are even (subsampled chroma only)."""
    if pix_fmt not in SUBSAMPLED:
        return frames
    ph, pw = frames.shape[1] % 2, frames.shape[2] % 2
    if ph or pw:
        frames = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
    return frames


def _options(codec: str, crf, preset) -> dict:
    """Single-threaded (deterministic) encoder options."""
    preset = preset if preset is not None else CODECS[codec][2]
    opts = {}
    if codec in ("libx264", "libx265"):
        opts["preset"] = str(preset)
        if codec == "libx264":
            opts.update({"threads": "1", "x264-params": "threads=1"})
        else:
            opts["x265-params"] = "pools=none:frame-threads=1:log-level=error"
    elif codec == "libvpx-vp9":
        opts.update({"threads": "1", "row-mt": "0", "deadline": "good",
                     "cpu-used": str(preset) if str(preset).isdigit() else CODECS[codec][2]})
    elif codec == "libsvtav1":
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner to stderr otherwise
        opts.update({"preset": str(preset) if str(preset).isdigit() else CODECS[codec][2],
                     "svtav1-params": "lp=1"})
    elif codec == "ffv1":
        opts["threads"] = "1"
    if crf is not None:
        opts["crf"] = str(int(crf))
        if codec == "libvpx-vp9":
            opts["b"] = "0"  # constant quality
    return opts


def _video_frame(rgb: np.ndarray, pix_fmt: str):
    """One RGB frame converted to `pix_fmt`, with each plane's row padding (line_size beyond
    the width: FFmpeg leaves it uninitialised) zeroed: encoders' SIMD may read it, and bits
    must not depend on stale memory."""
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
    depth = {"bgr0": 4, "bgra": 4, "rgb24": 3}.get(pix_fmt, 2 if pix_fmt.endswith("le") else 1)
    for plane in frame.planes:
        used = plane.width * depth
        if plane.line_size > used:
            rows = np.frombuffer(memoryview(plane), np.uint8)
            rows[: plane.height * plane.line_size].reshape(plane.height, -1)[:, used:] = 0
    return frame


# encode_decode's elementary-stream muxers (no global header: parameter sets stay in the
# packets) and the SEI NAL unit types it drops before counting (the encoder's informational
# SEI, e.g. x264's ~700-byte options string in the first frame: no decoder needs it)
RAW_MUXERS = {"libx264": "h264", "libx265": "hevc", "libvpx-vp9": "ivf", "libsvtav1": "ivf",
              "ffv1": "nut"}
SEI_TYPES = {"libx264": "6", "libx265": "39|40"}


def _encode(container, frames: np.ndarray, codec: str, crf, bitrate, fps, pix_fmt, preset,
            drop_sei: bool = False):
    """Encode into an open output container; returns (stream, bytes of the packets muxed)."""
    stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
    stream.width, stream.height = frames.shape[2], frames.shape[1]
    stream.pix_fmt = pix_fmt
    if bitrate is not None:
        stream.codec_context.bit_rate = parse_bitrate(bitrate)
    stream.codec_context.options = _options(codec, crf, preset)
    drop_sei = drop_sei and codec in SEI_TYPES
    bsf, size = None, 0

    def mux(packets):
        nonlocal bsf, size
        for packet in packets:
            if drop_sei and bsf is None:  # made once the encoder is open (its parameters)
                bsf = av.BitStreamFilterContext(
                    f"filter_units=remove_types={SEI_TYPES[codec]}", stream, stream)
            for out in (bsf.filter(packet) if bsf else [packet]):
                size += out.size
                container.mux(out)

    for i, rgb in enumerate(frames):
        frame = _video_frame(rgb, pix_fmt)
        frame.pts = i
        mux(stream.encode(frame))
    mux(stream.encode(None))
    if bsf:
        for out in bsf.filter(None):
            size += out.size
            container.mux(out)
    return stream, size


def write_video(frames, path, codec: str | None = None, crf: int | None = None,
                bitrate=None, fps: float = 25, pix_fmt: str | None = None,
                preset: str | None = None) -> None:
    """Encode F x H x W x 3 uint8 to `path` (container from the extension; codec default
    libx264, or libvpx-vp9 for .webm, rawvideo for .y4m; crf None and bitrate None: the
    codec's own default). Atomic. Odd sizes in 4:2:0: see the module docstring."""
    frames = _check_frames(frames)
    fmt, codec = check_video_target(path, codec)
    check_codec(codec, crf, bitrate, preset)
    pix_fmt = pix_fmt or CODECS[codec][0]
    h, w = frames.shape[1:3]
    padded = _pad_even(frames, pix_fmt)
    with atomic_path(path) as tmp:
        try:
            with av.open(tmp, "w", format=fmt) as container:
                if padded.shape[1:3] != (h, w):
                    container.metadata["comment"] = f"{SIZE_TAG} {w}x{h}"
                _encode(container, padded, codec, crf, bitrate, fps, pix_fmt, preset)
        except (av.error.FFmpegError, OSError) as exc:
            raise VideoError(f"cannot write video {path} ({codec}): {_line(exc)}") from None


def encode_decode(frames, codec: str = "libx264", crf: int | None = 23,
                  preset: str | None = "medium", pix_fmt: str | None = None
                  ) -> tuple[np.ndarray, int]:
    """(decoded F x H x W x 3 uint8, bits): the frames through `codec` at `crf` and back, in
    memory (the elementary stream in a BytesIO: raw H.264 / HEVC, IVF for VP9 / AV1).
    bits = 8 x the stream's packets (parameter sets included, in band), less the encoder's
    informational SEI (SEI_TYPES), no container overhead. Odd sizes in 4:2:0 are
    replicate-padded to even (the padding is coded, so counted) and cropped back.
    Single-threaded encoder: the same input gives the same bits on every run."""
    frames = _check_frames(frames)
    check_codec(codec, crf, preset=preset)
    if codec == "rawvideo":
        raise ValueError("rawvideo is not a codec to measure: choose a lossy one or ffv1")
    pix_fmt = pix_fmt or CODECS[codec][0]
    h, w = frames.shape[1:3]
    padded = _pad_even(frames, pix_fmt)
    buf, muxer = io.BytesIO(), RAW_MUXERS[codec]
    with av.open(buf, "w", format=muxer) as container:
        stream, size = _encode(container, padded, codec, crf, None, 25, pix_fmt, preset,
                               drop_sei=True)
        size += len(stream.codec_context.extradata or b"")
    buf.seek(0)
    with av.open(buf, "r", format=muxer) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    if len(decoded) != len(frames):
        raise RuntimeError(f"{codec} returned {len(decoded)} frames for {len(frames)}")
    return np.ascontiguousarray(np.stack(decoded)[:, :h, :w]), 8 * size
