//! vPDQ, Meta's video hash: a PDQ hash of sampled frames, bit-exact with PyPI `vpdq`.
//!
//! The text forms and [`VpdqFeature`] are always built; decoding ([`hash_video`]) needs the
//! `video` feature (FFmpeg's libavformat, libavcodec and libswscale, the system's).
//!
//! What the reference (`vpdq/cpp/vpdq/cpp/hashing/{filehasher,ffmpegwrapper}.cpp`,
//! `hasher.h`, `pdqbufferhasher.cpp`) does, and this module reproduces:
//! - the first video stream; its frame rate is `avg_frame_rate`, or `r_frame_rate` when that is
//!   0; the decoder uses slice threads only (never frame threads);
//! - every decoded frame is numbered from 0 in decoder output order; frame `n` is hashed when
//!   `n % max(1, trunc(seconds_per_hash × frame rate)) == 0` (`seconds_per_hash` 0: every frame);
//! - the frame is converted by swscale to RGB24 at the stream's size (or the asked size), flag
//!   `SWS_AREA`, into a frame from `av_frame_get_buffer(…, 0)`;
//! - luma `0.299 R + 0.587 G + 0.114 B` in f32 (the C++ `fillFloatLumaFromRGB`, not the f64 of
//!   the image binding), then PDQ ([`crate::pdq`]) with its quality;
//! - the timestamp is `(float) frame_number / (float) frame_rate`;
//! - frames under 5 pixels on a side fail the whole video;
//! - after the last packet the decoder is drained with the packet `av_read_frame` left blank,
//!   whose stream index is 0: the reference drains only when the video is stream 0 (otherwise
//!   the frames the decoder still holds are never hashed), and so does this module;
//! - no dedup and no quality filter at hash time (matching applies them).

use crate::hash::PdqHash;
use crate::SignalError;

/// The hash of one sampled frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VpdqFeature {
    pub hash: PdqHash,
    /// PDQ quality, 0..=100.
    pub quality: u8,
    /// The frame's number in decoder output order, from 0.
    pub frame_number: u64,
    /// Seconds from the start: `frame_number / frame rate`, computed in f32 as the reference.
    pub timestamp: f64,
}

impl VpdqFeature {
    /// The line of the reference's hash files (`vpdq-hash-video`, `vpdqio.cpp`):
    /// `frame_number,quality,hash,timestamp` with the timestamp to 3 decimals.
    pub fn to_line(&self) -> String {
        format!(
            "{},{},{},{:.3}",
            self.frame_number,
            self.quality,
            self.hash.to_hex(),
            self.timestamp
        )
    }

    /// Parses [`VpdqFeature::to_line`]'s form (extra fields after the fourth are ignored, as
    /// the reference does).
    pub fn from_line(line: &str) -> Result<VpdqFeature, SignalError> {
        let bad = |m: &str| SignalError::BadHash(format!("vpdq line {line:?}: {m}"));
        let mut parts = line.trim().split(',');
        let (Some(frame), Some(quality), Some(hash), Some(ts)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad(
                "expected frame_number,quality,hash,timestamp (four fields)",
            ));
        };
        let frame_number = frame
            .trim()
            .parse::<u64>()
            .map_err(|_| bad("frame number is not a non-negative integer"))?;
        let feature = compact_fields(hash, quality, ts).map_err(|m| bad(&m))?;
        Ok(VpdqFeature {
            frame_number,
            ..feature
        })
    }

    /// python-threatexchange's `VpdqCompactFeature` form, the one HMA stores and exchanges:
    /// `hash,quality,timestamp`, the timestamp formatted as Python's `f"{t:.3}"` (three
    /// significant digits: `0.0`, `2.5`, `12.3`, `1.23e+02`).
    pub fn to_compact(&self) -> String {
        format!(
            "{},{},{}",
            self.hash.to_hex(),
            self.quality,
            python_precision3(self.timestamp)
        )
    }

    /// Parses [`VpdqFeature::to_compact`]'s form, with python-threatexchange's checks (exactly
    /// three fields, a 64-hex hash, quality 0..=100, timestamp ≥ 0). The compact form has no
    /// frame number: `frame_number` is given by the caller (its position in the list).
    pub fn from_compact(s: &str, frame_number: u64) -> Result<VpdqFeature, SignalError> {
        let bad = |m: &str| SignalError::BadHash(format!("vpdq feature {s:?}: {m}"));
        let parts: Vec<&str> = s.split(',').collect();
        let [hash, quality, ts] = parts[..] else {
            return Err(bad("expected hash,quality,timestamp (three fields)"));
        };
        let feature = compact_fields(hash, quality, ts).map_err(|m| bad(&m))?;
        Ok(VpdqFeature {
            frame_number,
            ..feature
        })
    }
}

fn compact_fields(hash: &str, quality: &str, ts: &str) -> Result<VpdqFeature, String> {
    let hash = PdqHash::from_hex(hash).map_err(|e| e.to_string())?;
    let quality = quality
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|q| (0..=100).contains(q))
        .ok_or("quality is not an integer in 0..=100")? as u8;
    let timestamp = ts
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|t| t.is_finite() && *t >= 0.0)
        .ok_or("timestamp is not a number ≥ 0")?;
    Ok(VpdqFeature {
        hash,
        quality,
        frame_number: 0,
        timestamp,
    })
}

/// The signal string of HMA's `vpdq` signal type (python-threatexchange `vpdq_to_json`): a JSON
/// list of the features' compact forms, `["hash,quality,timestamp", …]` (`json.dumps`
/// spacing: `", "` between items).
pub fn to_signal_string(features: &[VpdqFeature]) -> String {
    let items: Vec<String> = features
        .iter()
        .map(|f| format!("\"{}\"", f.to_compact()))
        .collect();
    format!("[{}]", items.join(", "))
}

/// Parses a signal string ([`to_signal_string`]; any JSON spacing; empty text is no frames,
/// as `json_to_vpdq` treats it). Frame numbers are the positions in the list.
pub fn parse_signal_string(s: &str) -> Result<Vec<VpdqFeature>, SignalError> {
    let bad = |m: &str| SignalError::BadHash(format!("vpdq signal: {m}"));
    let t = s.trim();
    if t.is_empty() {
        return Ok(Vec::new());
    }
    let inner = t
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(|| bad("expected a JSON list of strings"))?
        .trim();
    if inner.is_empty() {
        return Ok(Vec::new());
    }
    inner
        .split(',')
        .collect::<Vec<_>>()
        // Each item is `"hash,quality,timestamp"`: three comma-separated pieces inside quotes.
        .chunks(3)
        .enumerate()
        .map(|(i, chunk)| {
            let joined = chunk.join(",");
            let item = joined.trim();
            let body = item
                .strip_prefix('"')
                .and_then(|b| b.strip_suffix('"'))
                .filter(|b| !b.contains('"') && !b.contains('\\') && chunk.len() == 3)
                .ok_or_else(|| {
                    bad(&format!(
                        "item {i} is not a \"hash,quality,timestamp\" string"
                    ))
                })?;
            VpdqFeature::from_compact(body, i as u64)
        })
        .collect()
}

/// Python's `format(x, ".3")`: 3 significant digits, trailing zeros removed, fixed notation
/// for exponents -4..=1 (with `.0` added when it has no decimal point), else `1.23e+02`.
pub fn python_precision3(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Round to 3 significant digits once (correctly rounded, half to even on the exact value,
    // as CPython's dtoa), then choose the notation from the rounded exponent.
    let sci = format!("{x:.2e}");
    let (mantissa, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    // The none type switches to scientific notation from exponent `precision - 1` on (not
    // `precision`, as `g` does).
    if (-4..2).contains(&exp) {
        let decimals = (2 - exp) as usize;
        let fixed = format!("{x:.decimals$}");
        let fixed = if fixed.contains('.') {
            fixed
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        } else {
            fixed
        };
        if fixed.contains('.') {
            fixed
        } else {
            format!("{fixed}.0")
        }
    } else {
        let m = if mantissa.contains('.') {
            mantissa.trim_end_matches('0').trim_end_matches('.')
        } else {
            mantissa
        };
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    }
}

/// Limits on one video's decode. Every one is checked while decoding; passing one is an error
/// ([`VideoError::TooLarge`]), never a partial hash.
#[derive(Clone, Debug)]
pub struct VideoLimits {
    /// Largest input, in bytes.
    pub max_bytes: u64,
    /// Largest frame (declared or decoded, and the hashing size), in pixels.
    pub max_pixels: u64,
    /// Most frames decoded (sampled or not).
    pub max_frames: u64,
    /// Longest video, in seconds (declared duration, and the position of each decoded frame).
    pub max_duration_secs: f64,
    /// Longest wall time for the whole decode and hash.
    pub max_time: std::time::Duration,
}

impl Default for VideoLimits {
    fn default() -> Self {
        VideoLimits {
            max_bytes: 1 << 30,
            max_pixels: 8192 * 4352,
            max_frames: 500_000,
            max_duration_secs: 4.0 * 3600.0,
            max_time: std::time::Duration::from_secs(600),
        }
    }
}

/// How to hash a video; the defaults are PyPI `vpdq.computeHash`'s.
#[derive(Clone, Debug)]
pub struct VpdqOptions {
    /// One frame hashed every this many seconds (0: every frame). Default 1.
    pub seconds_per_hash: f64,
    /// Width frames are scaled to before hashing (0: the stream's). Default 0.
    pub width: u32,
    /// Height frames are scaled to before hashing (0: the stream's). Default 0.
    pub height: u32,
    /// Decoder slice threads (0: FFmpeg chooses, as the reference). Default 1: a service runs
    /// many decodes side by side. The output never depends on it.
    pub decoder_threads: usize,
    pub limits: VideoLimits,
}

impl Default for VpdqOptions {
    fn default() -> Self {
        VpdqOptions {
            seconds_per_hash: 1.0,
            width: 0,
            height: 0,
            decoder_threads: 1,
            limits: VideoLimits::default(),
        }
    }
}

/// Why a video could not be hashed.
#[derive(Debug, Clone, PartialEq)]
pub enum VideoError {
    /// Not a container FFmpeg recognises, one with no video stream, or a still image.
    NotAVideo(String),
    /// Over a limit of [`VideoLimits`].
    TooLarge(String),
    /// A video that cannot be decoded or hashed (corrupt, unsupported codec, frames under
    /// 5 pixels, bad options).
    Decode(String),
}

impl std::fmt::Display for VideoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VideoError::NotAVideo(m) => write!(f, "not a video: {m}"),
            VideoError::TooLarge(m) => write!(f, "video over a decode limit: {m}"),
            VideoError::Decode(m) => write!(f, "video cannot be decoded: {m}"),
        }
    }
}

impl std::error::Error for VideoError {}

#[cfg(feature = "video")]
pub use ffmpeg::hash_video;

/// The vPDQ of content that is a video; `None` for content that is not one (what `candor hash`
/// and the services ask of content that is not an image).
#[cfg(feature = "video")]
pub fn video_signal(
    bytes: &[u8],
    opts: &VpdqOptions,
) -> Option<Result<Vec<VpdqFeature>, VideoError>> {
    match hash_video(bytes, opts) {
        Err(VideoError::NotAVideo(_)) => None,
        r => Some(r),
    }
}

#[cfg(feature = "video")]
mod ffmpeg {
    use std::ffi::{c_int, c_void};
    use std::ptr;
    use std::time::Instant;

    use ffmpeg_sys_next as ff;

    use super::{VideoError, VpdqFeature, VpdqOptions};
    use crate::pdq::{PdqHasher, Pixels, MIN_HASHABLE_DIM};

    const IO_BUFFER: usize = 64 * 1024;

    /// The byte source behind the AVIOContext, and the deadline its interrupt callback checks.
    struct Source<'a> {
        data: &'a [u8],
        pos: usize,
        deadline: Instant,
    }

    unsafe extern "C" fn read_packet(opaque: *mut c_void, buf: *mut u8, size: c_int) -> c_int {
        // SAFETY: `opaque` is the `Source` this module gave avio_alloc_context; it outlives the
        // format context (dropped after it), and FFmpeg calls from this thread only.
        let src = unsafe { &mut *(opaque as *mut Source) };
        let rest = src.data.len().saturating_sub(src.pos);
        if rest == 0 || size <= 0 {
            return ff::AVERROR_EOF;
        }
        let n = rest.min(size as usize);
        // SAFETY: FFmpeg hands a buffer of `size` bytes; `n ≤ size` and `pos + n ≤ len`.
        unsafe { ptr::copy_nonoverlapping(src.data.as_ptr().add(src.pos), buf, n) };
        src.pos += n;
        n as c_int
    }

    unsafe extern "C" fn seek(opaque: *mut c_void, offset: i64, whence: c_int) -> i64 {
        // SAFETY: as in `read_packet`.
        let src = unsafe { &mut *(opaque as *mut Source) };
        let len = src.data.len() as i64;
        if whence & ff::AVSEEK_SIZE != 0 {
            return len;
        }
        let base = match whence & !ff::AVSEEK_FORCE {
            0 => 0,              // SEEK_SET
            1 => src.pos as i64, // SEEK_CUR
            2 => len,            // SEEK_END
            _ => return ff::AVERROR(libc::EINVAL) as i64,
        };
        match base.checked_add(offset) {
            Some(p) if (0..=len).contains(&p) => {
                src.pos = p as usize;
                p
            }
            _ => ff::AVERROR(libc::EINVAL) as i64,
        }
    }

    unsafe extern "C" fn interrupt(opaque: *mut c_void) -> c_int {
        // SAFETY: as in `read_packet` (the callback only reads the deadline).
        let src = unsafe { &*(opaque as *const Source) };
        (Instant::now() >= src.deadline) as c_int
    }

    /// Owns every FFmpeg object of one decode; frees them in the right order.
    struct Decode {
        avio: *mut ff::AVIOContext,
        fmt: *mut ff::AVFormatContext,
        codec: *mut ff::AVCodecContext,
        packet: *mut ff::AVPacket,
        frame: *mut ff::AVFrame,
        rgb: *mut ff::AVFrame,
        sws: *mut ff::SwsContext,
    }

    impl Drop for Decode {
        fn drop(&mut self) {
            // SAFETY: each pointer is null or owned by this struct; the free functions accept
            // pointers to null.
            unsafe {
                ff::sws_freeContext(self.sws);
                ff::av_frame_free(&mut self.rgb);
                ff::av_frame_free(&mut self.frame);
                ff::av_packet_free(&mut self.packet);
                ff::avcodec_free_context(&mut self.codec);
                ff::avformat_close_input(&mut self.fmt);
                if !self.avio.is_null() {
                    // The buffer may have been replaced by FFmpeg: free the current one.
                    ff::av_freep(&mut (*self.avio).buffer as *mut *mut u8 as *mut c_void);
                    ff::avio_context_free(&mut self.avio);
                }
            }
        }
    }

    fn averr(code: c_int) -> String {
        let mut buf = [0 as std::ffi::c_char; 128];
        // SAFETY: the buffer is 128 bytes and av_strerror NUL-terminates within it.
        unsafe {
            ff::av_strerror(code, buf.as_mut_ptr(), buf.len());
            std::ffi::CStr::from_ptr(buf.as_ptr())
                .to_string_lossy()
                .into_owned()
        }
    }

    /// Hashes a video held in memory (never written anywhere): the vPDQ features of its
    /// sampled frames, in frame order, bit-exact with PyPI `vpdq.computeHash` with the same
    /// options.
    pub fn hash_video(bytes: &[u8], opts: &VpdqOptions) -> Result<Vec<VpdqFeature>, VideoError> {
        let limits = &opts.limits;
        if bytes.len() as u64 > limits.max_bytes {
            return Err(VideoError::TooLarge(format!(
                "{} bytes is over the limit of {} bytes",
                bytes.len(),
                limits.max_bytes
            )));
        }
        if bytes.is_empty() {
            return Err(VideoError::NotAVideo("empty input".into()));
        }
        if !(opts.seconds_per_hash.is_finite() && opts.seconds_per_hash >= 0.0) {
            return Err(VideoError::Decode(
                "seconds_per_hash must be a finite number ≥ 0".into(),
            ));
        }
        let mut source = Box::new(Source {
            data: bytes,
            pos: 0,
            deadline: Instant::now() + limits.max_time,
        });
        let mut d = Decode {
            avio: ptr::null_mut(),
            fmt: ptr::null_mut(),
            codec: ptr::null_mut(),
            packet: ptr::null_mut(),
            frame: ptr::null_mut(),
            rgb: ptr::null_mut(),
            sws: ptr::null_mut(),
        };
        // SAFETY: FFmpeg's documented call sequence; every pointer is checked before use and
        // owned by `d` (freed on every path by its Drop, before `source`).
        unsafe { run(&mut d, &mut source, opts) }
    }

    unsafe fn run(
        d: &mut Decode,
        source: &mut Source,
        opts: &VpdqOptions,
    ) -> Result<Vec<VpdqFeature>, VideoError> {
        let limits = &opts.limits;
        let oom = || VideoError::Decode("out of memory".into());
        let timed_out = |source: &Source| {
            (Instant::now() >= source.deadline).then(|| {
                VideoError::TooLarge(format!(
                    "decoding took longer than the limit of {:?}",
                    limits.max_time
                ))
            })
        };
        unsafe {
            // As the reference when not verbose: only fatal messages.
            ff::av_log_set_level(ff::AV_LOG_FATAL);
            let buffer = ff::av_malloc(IO_BUFFER) as *mut u8;
            if buffer.is_null() {
                return Err(oom());
            }
            let opaque = source as *mut Source as *mut c_void;
            d.avio = ff::avio_alloc_context(
                buffer,
                IO_BUFFER as c_int,
                0,
                opaque,
                Some(read_packet),
                None,
                Some(seek),
            );
            if d.avio.is_null() {
                ff::av_free(buffer as *mut c_void);
                return Err(oom());
            }
            d.fmt = ff::avformat_alloc_context();
            if d.fmt.is_null() {
                return Err(oom());
            }
            (*d.fmt).pb = d.avio;
            (*d.fmt).flags |= ff::AVFMT_FLAG_CUSTOM_IO;
            (*d.fmt).interrupt_callback = ff::AVIOInterruptCB {
                callback: Some(interrupt),
                opaque,
            };
            // Probe first, as avformat_open_input would with this I/O (the probed bytes are
            // kept for the demuxer), to tell content that is no video from a video that is
            // cut or corrupt.
            let mut iformat: *const ff::AVInputFormat = ptr::null();
            let score = ff::av_probe_input_buffer2(
                d.avio,
                &mut iformat,
                ptr::null(),
                d.fmt as *mut c_void,
                0,
                0,
            );
            if let Some(e) = timed_out(source) {
                return Err(e);
            }
            if score < 0 || iformat.is_null() {
                return Err(VideoError::NotAVideo(format!(
                    "no container recognised ({})",
                    averr(score)
                )));
            }
            let demuxer = if (*iformat).name.is_null() {
                String::new()
            } else {
                std::ffi::CStr::from_ptr((*iformat).name)
                    .to_string_lossy()
                    .into_owned()
            };
            // Still images (PNG, JPEG, … as one-frame "videos") are the image path's.
            if demuxer.ends_with("_pipe") || demuxer == "image2" {
                return Err(VideoError::NotAVideo(format!("a still image ({demuxer})")));
            }
            // FFmpeg takes a raw-stream guess at score 25 (AVPROBE_SCORE_RETRY) from random
            // bytes (raw H.263, one grey frame); real containers score 100, raw streams > 25.
            if score <= 25 {
                return Err(VideoError::NotAVideo(format!(
                    "no container recognised (only a weak guess: {demuxer})"
                )));
            }
            // On failure avformat_open_input frees the context and nulls the pointer.
            let r = ff::avformat_open_input(&mut d.fmt, ptr::null(), iformat, ptr::null_mut());
            if r != 0 {
                return Err(timed_out(source).unwrap_or_else(|| {
                    VideoError::Decode(format!(
                        "a {demuxer} container that cannot be opened, cut or corrupt ({})",
                        averr(r)
                    ))
                }));
            }
            let r = ff::avformat_find_stream_info(d.fmt, ptr::null_mut());
            if r < 0 {
                return Err(timed_out(source).unwrap_or_else(|| {
                    VideoError::Decode(format!("cannot find stream info ({})", averr(r)))
                }));
            }
            let fmt = &*d.fmt;
            let streams: &[*mut ff::AVStream] = if fmt.streams.is_null() {
                &[]
            } else {
                std::slice::from_raw_parts(fmt.streams, fmt.nb_streams as usize)
            };
            let Some(index) = streams.iter().position(|&s| {
                !s.is_null()
                    && !(*s).codecpar.is_null()
                    && (*(*s).codecpar).codec_type == ff::AVMediaType::AVMEDIA_TYPE_VIDEO
            }) else {
                return Err(VideoError::NotAVideo("no video stream".into()));
            };
            let stream = &*streams[index];
            let par = &*stream.codecpar;
            let (src_w, src_h) = (par.width, par.height);
            if src_w <= 0 || src_h <= 0 {
                return Err(VideoError::Decode("width or height is 0".into()));
            }
            let pixels = |w: c_int, h: c_int| w as u64 * h as u64;
            if pixels(src_w, src_h) > limits.max_pixels {
                return Err(VideoError::TooLarge(format!(
                    "{src_w}×{src_h} is over the limit of {} pixels",
                    limits.max_pixels
                )));
            }
            if fmt.duration > 0
                && fmt.duration as f64 / ff::AV_TIME_BASE as f64 > limits.max_duration_secs
            {
                return Err(VideoError::TooLarge(format!(
                    "a declared duration of {:.1} s is over the limit of {} s",
                    fmt.duration as f64 / ff::AV_TIME_BASE as f64,
                    limits.max_duration_secs
                )));
            }
            let codec = ff::avcodec_find_decoder(par.codec_id);
            if codec.is_null() {
                return Err(VideoError::Decode(format!(
                    "no decoder for codec id {}",
                    par.codec_id as i32
                )));
            }
            d.codec = ff::avcodec_alloc_context3(codec);
            if d.codec.is_null() {
                return Err(oom());
            }
            if ff::avcodec_parameters_to_context(d.codec, par) < 0 {
                return Err(VideoError::Decode("bad codec parameters".into()));
            }
            // The reference: slice threads when the decoder has them, else one thread.
            if (*codec).capabilities as u32 & ff::AV_CODEC_CAP_SLICE_THREADS != 0 {
                (*d.codec).thread_count = opts.decoder_threads.min(64) as c_int;
                (*d.codec).thread_type = ff::FF_THREAD_SLICE;
            } else {
                (*d.codec).thread_count = 1;
            }
            // FFmpeg's own bound on what a decoder allocates; it counts coded sizes (16-pixel
            // macroblocks), hence the headroom: the exact limit is ours, on every frame.
            (*d.codec).max_pixels = limits.max_pixels.saturating_mul(2).min(i64::MAX as u64) as i64;
            let r = ff::avcodec_open2(d.codec, codec, ptr::null_mut());
            if r < 0 {
                return Err(VideoError::Decode(format!(
                    "cannot open the decoder ({})",
                    averr(r)
                )));
            }
            let mut rate = stream.avg_frame_rate;
            if rate.num == 0 || rate.den == 0 {
                rate = stream.r_frame_rate;
            }
            let frame_rate = rate.num as f64 / rate.den as f64;
            if !(frame_rate.is_finite() && frame_rate > 0.0) {
                return Err(VideoError::Decode("no frame rate".into()));
            }
            let width = if opts.width > 0 {
                opts.width as c_int
            } else {
                src_w
            };
            let height = if opts.height > 0 {
                opts.height as c_int
            } else {
                src_h
            };
            if width <= 0 || height <= 0 || pixels(width, height) > limits.max_pixels {
                return Err(VideoError::TooLarge(format!(
                    "hashing at {width}×{height} is over the limit of {} pixels",
                    limits.max_pixels
                )));
            }
            if (width as usize) < MIN_HASHABLE_DIM || (height as usize) < MIN_HASHABLE_DIM {
                return Err(VideoError::Decode(format!(
                    "frames of {width}×{height} are under the minimum hashable {MIN_HASHABLE_DIM} pixels on a side"
                )));
            }
            // `static_cast<int>(secondsPerHash * frameRate)`, 0 → 1.
            let frame_mod = ((opts.seconds_per_hash * frame_rate) as i64).clamp(0, i32::MAX as i64);
            let frame_mod = frame_mod.max(1);

            d.packet = ff::av_packet_alloc();
            d.frame = ff::av_frame_alloc();
            d.rgb = ff::av_frame_alloc();
            if d.packet.is_null() || d.frame.is_null() || d.rgb.is_null() {
                return Err(oom());
            }
            (*d.rgb).format = ff::AVPixelFormat::AV_PIX_FMT_RGB24 as c_int;
            (*d.rgb).width = width;
            (*d.rgb).height = height;
            if ff::av_frame_get_buffer(d.rgb, 0) < 0 {
                return Err(oom());
            }

            let mut st = State {
                index: index as c_int,
                frame_rate,
                frame_mod,
                width: width as usize,
                height: height as usize,
                decoded: 0,
                hasher: PdqHasher::new(),
                luma: vec![0f32; width as usize * height as usize],
                out: Vec::new(),
            };
            while ff::av_read_frame(d.fmt, d.packet) == 0 {
                if let Some(e) = timed_out(source) {
                    return Err(e);
                }
                let r = process_packet(d, &mut st, limits);
                ff::av_packet_unref(d.packet);
                r?;
            }
            if let Some(e) = timed_out(source) {
                return Err(e);
            }
            // The reference drains with the blank packet, whose stream index is 0.
            if (*d.packet).stream_index == st.index {
                process_packet(d, &mut st, limits)?;
            }
            Ok(st.out)
        }
    }

    struct State {
        index: c_int,
        frame_rate: f64,
        frame_mod: i64,
        width: usize,
        height: usize,
        decoded: u64,
        hasher: PdqHasher,
        luma: Vec<f32>,
        out: Vec<VpdqFeature>,
    }

    unsafe fn process_packet(
        d: &mut Decode,
        st: &mut State,
        limits: &super::VideoLimits,
    ) -> Result<(), VideoError> {
        unsafe {
            if (*d.packet).stream_index != st.index {
                return Ok(());
            }
            let r = ff::avcodec_send_packet(d.codec, d.packet);
            if r < 0 {
                return Err(VideoError::Decode(format!(
                    "cannot send packet to decoder ({})",
                    averr(r)
                )));
            }
            loop {
                let r = ff::avcodec_receive_frame(d.codec, d.frame);
                if r == ff::AVERROR(libc::EAGAIN) || r == ff::AVERROR_EOF {
                    return Ok(());
                }
                if r < 0 {
                    return Err(VideoError::Decode(format!(
                        "cannot receive frame from decoder ({})",
                        averr(r)
                    )));
                }
                let frame_number = st.decoded;
                st.decoded += 1;
                if st.decoded > limits.max_frames {
                    return Err(VideoError::TooLarge(format!(
                        "more than the limit of {} frames",
                        limits.max_frames
                    )));
                }
                if frame_number as f64 / st.frame_rate > limits.max_duration_secs {
                    return Err(VideoError::TooLarge(format!(
                        "longer than the limit of {} s",
                        limits.max_duration_secs
                    )));
                }
                let f = &*d.frame;
                if f.width <= 0 || f.height <= 0 {
                    return Err(VideoError::Decode("a decoded frame has no pixels".into()));
                }
                if f.width as u64 * f.height as u64 > limits.max_pixels {
                    return Err(VideoError::TooLarge(format!(
                        "a {}×{} frame is over the limit of {} pixels",
                        f.width, f.height, limits.max_pixels
                    )));
                }
                if frame_number as i64 % st.frame_mod == 0 {
                    let feature = hash_frame(d, st, frame_number)?;
                    st.out.push(feature);
                }
                ff::av_frame_unref(d.frame);
            }
        }
    }

    unsafe fn hash_frame(
        d: &mut Decode,
        st: &mut State,
        frame_number: u64,
    ) -> Result<VpdqFeature, VideoError> {
        unsafe {
            let f = &*d.frame;
            // The reference builds its context from the decoder's size and format before the
            // first frame; a frame that differs (a mid-stream change) gets its own context
            // instead of being read out of bounds.
            let format: ff::AVPixelFormat =
                std::mem::transmute::<c_int, ff::AVPixelFormat>(f.format);
            d.sws = ff::sws_getCachedContext(
                d.sws,
                f.width,
                f.height,
                format,
                st.width as c_int,
                st.height as c_int,
                ff::AVPixelFormat::AV_PIX_FMT_RGB24,
                ff::SWS_AREA,
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null(),
            );
            if d.sws.is_null() {
                return Err(VideoError::Decode(format!(
                    "cannot convert frames of pixel format {}",
                    f.format
                )));
            }
            let rgb = &*d.rgb;
            let h = ff::sws_scale(
                d.sws,
                f.data.as_ptr() as *const *const u8,
                f.linesize.as_ptr(),
                0,
                f.height,
                rgb.data.as_ptr(),
                rgb.linesize.as_ptr(),
            );
            if h <= 0 {
                return Err(VideoError::Decode("cannot scale a frame".into()));
            }
            let (w, hgt) = (st.width, st.height);
            let stride = rgb.linesize[0] as usize;
            let base = rgb.data[0];
            for (r, out) in st.luma.chunks_exact_mut(w).enumerate().take(hgt) {
                let row = std::slice::from_raw_parts(base.add(r * stride), w * 3);
                luma_row_f32(row, out);
            }
            let signal = st.hasher.hash(Pixels::Luma(&st.luma), w, hgt).signal;
            Ok(VpdqFeature {
                hash: signal.hash,
                quality: signal.quality,
                frame_number,
                timestamp: ((frame_number as f32) / (st.frame_rate as f32)) as f64,
            })
        }
    }

    /// `fillFloatLumaFromRGB`: float coefficients, float products and sums, left to right.
    fn luma_row_f32(rgb: &[u8], out: &mut [f32]) {
        const R: f32 = 0.299;
        const G: f32 = 0.587;
        const B: f32 = 0.114;
        for (o, px) in out.iter_mut().zip(rgb.chunks_exact(3)) {
            *o = R * px[0] as f32 + G * px[1] as f32 + B * px[2] as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_precision3_matches_cpython() {
        // Expected values printed by CPython 3.11 `f"{x:.3}"`.
        for (x, want) in [
            (0.0, "0.0"),
            (1.0, "1.0"),
            (0.5, "0.5"),
            (2.5, "2.5"),
            (12.5, "12.5"),
            (1.125, "1.12"),
            (0.0625, "0.0625"),
            (0.0005, "0.0005"),
            (0.00001, "1e-05"),
            (100.0, "1e+02"),
            (123.4, "1.23e+02"),
            (999.4, "9.99e+02"),
            (99.96, "1e+02"),
            (10.0, "10.0"),
            (99.0, "99.0"),
            (33.366665, "33.4"),
            (0.033333335, "0.0333"),
        ] {
            assert_eq!(python_precision3(x), want, "{x}");
        }
    }

    #[test]
    fn text_forms_round_trip_and_refuse_bad_input() {
        let f = VpdqFeature {
            hash: PdqHash::from_hex(
                "e2f1017837246bacc5dea21b648fbfd62f435c89db299a2497667e216c8d055c",
            )
            .unwrap(),
            quality: 100,
            frame_number: 1,
            timestamp: (1f32 / 29.97f32) as f64,
        };
        assert_eq!(
            f.to_line(),
            "1,100,e2f1017837246bacc5dea21b648fbfd62f435c89db299a2497667e216c8d055c,0.033"
        );
        let back = VpdqFeature::from_line(&f.to_line()).unwrap();
        assert_eq!(
            (back.hash, back.quality, back.frame_number),
            (f.hash, 100, 1)
        );
        assert_eq!(back.timestamp, 0.033);
        assert_eq!(
            f.to_compact(),
            "e2f1017837246bacc5dea21b648fbfd62f435c89db299a2497667e216c8d055c,100,0.0334"
        );
        let sig = to_signal_string(&[f, f]);
        let parsed = parse_signal_string(&sig).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].frame_number, 1);
        assert_eq!(parsed[1].to_compact(), f.to_compact());
        assert!(parse_signal_string("").unwrap().is_empty());
        assert!(parse_signal_string("[]").unwrap().is_empty());
        for bad in [
            "[\"e2f1,100,0.0\"]",
            "[\"e2f1017837246bacc5dea21b648fbfd62f435c89db299a2497667e216c8d055c,101,0.0\"]",
            "[\"e2f1017837246bacc5dea21b648fbfd62f435c89db299a2497667e216c8d055c,100,-1\"]",
            "[\"e2f1017837246bacc5dea21b648fbfd62f435c89db299a2497667e216c8d055c,100\"]",
            "{}",
            "[e2f1017837246bacc5dea21b648fbfd62f435c89db299a2497667e216c8d055c,100,0.0]",
        ] {
            assert!(parse_signal_string(bad).is_err(), "{bad}");
        }
        for bad in [
            "",
            "1,100,zz,0.0",
            "x,100,e2f1017837246bacc5dea21b648fbfd62f435c89db299a2497667e216c8d055c,0",
        ] {
            assert!(VpdqFeature::from_line(bad).is_err(), "{bad}");
        }
    }
}
