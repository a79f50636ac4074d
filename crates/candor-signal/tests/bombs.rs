//! Decompression bombs: refused from the header when past the bound for hashing at all, and
//! hashed in bounded memory (measured: peak RSS of a child process) when within it.
use std::time::{Duration, Instant};

#[path = "common/encoders.rs"]
mod encoders;

use candor_signal::{hash_image_bytes, DecodeLimits, DecodePath, ImageOptions, SignalError};

fn crc_table() -> [u32; 256] {
    std::array::from_fn(|n| {
        let mut c = n as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        c
    })
}

fn crc32(parts: &[&[u8]]) -> u32 {
    let t = crc_table();
    let mut c = 0xffff_ffffu32;
    for p in parts {
        for &b in *p {
            c = t[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
        }
    }
    !c
}

fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend_from_slice(kind);
    c.extend_from_slice(data);
    c.extend_from_slice(&crc32(&[kind, data]).to_be_bytes());
    c
}

/// Bits packed least significant first, as deflate does.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u32, len: u32) {
        self.acc |= (value as u64) << self.n;
        self.n += len;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }
    /// A Huffman code: most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        let rev = code.reverse_bits() >> (32 - len);
        self.put(rev, len);
    }
}

/// A zlib stream of `n` zero bytes: one fixed-Huffman block of a literal and copies of 258
/// (13 bits per 258 bytes: about 1:160).
fn zeros_zlib(n: u64) -> Vec<u8> {
    let mut b = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        n: 0,
    };
    b.put(1, 1); // final block
    b.put(1, 2); // fixed Huffman
    let literal0 = |b: &mut Bits| b.code(0x30, 8);
    literal0(&mut b);
    let mut left = n - 1;
    while left >= 258 {
        b.code(0b1100_0101, 8); // length 258 (code 285)
        b.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        literal0(&mut b);
    }
    b.code(0, 7); // end of block
    if b.n > 0 {
        b.out.push(b.acc as u8);
    }
    let adler = ((n % 65521) as u32) << 16 | 1;
    b.out.extend_from_slice(&adler.to_be_bytes());
    b.out
}

/// An RGB PNG of `w × h` black pixels whose pixel data really inflates to `h · (3w + 1)` bytes.
fn zero_png(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(b"IDAT", &zeros_zlib(h as u64 * (3 * w as u64 + 1))));
    png.extend(chunk(b"IEND", &[]));
    png
}

/// A PNG whose header claims `w × h` with a few bytes of data.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(b"IDAT", &zeros_zlib(64)));
    png.extend(chunk(b"IEND", &[]));
    png
}

fn service() -> ImageOptions {
    ImageOptions {
        limits: DecodeLimits {
            max_pixels: 64_000_000,
            ..DecodeLimits::default()
        },
        ..ImageOptions::default()
    }
}

#[test]
fn the_zero_png_generator_makes_valid_pngs() {
    let png = zero_png(300, 200);
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (300, 200));
    assert!(img.pixels().all(|p| p.0 == [0, 0, 0]));
}

#[test]
fn claimed_bombs_are_refused_from_the_header() {
    let t = Instant::now();
    for (w, h) in [(100_000, 100_000), (200_000, 10), (40_000, 30_000)] {
        match hash_image_bytes(&png_claiming(w, h), &service()) {
            Err(e @ SignalError::Unhashable { .. }) => {
                assert!(e.is_unhashable());
                assert!(e.to_string().contains(&format!("{w}×{h}")), "{e}");
            }
            other => panic!("{w}×{h}: expected Unhashable, got {other:?}"),
        }
    }
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn a_real_bomb_past_the_bound_is_refused_without_inflating() {
    // 40,000 × 30,000 RGB: 3.6 GB of pixels in a 22 MB file; 1.2 gigapixels is past the
    // default bound of 2³⁰.
    let png = zero_png(40_000, 30_000);
    let t = Instant::now();
    let e = hash_image_bytes(&png, &service()).unwrap_err();
    let took = t.elapsed();
    println!(
        "{} byte PNG of 40000x30000: refused in {took:?}: {e}",
        png.len()
    );
    assert!(matches!(e, SignalError::Unhashable { .. }), "{e}");
    assert!(took < Duration::from_millis(200), "{took:?}");
}

const CHILD: &str = "CANDOR_BOMB_CHILD";

/// A black `w × h` bomb in `format`, a few bytes a row (GIF: LZW of zeros; generated from a
/// buffer of indices that is freed before measuring), and the path it must take.
fn bomb(format: &str, w: u32, h: u32) -> (Vec<u8>, DecodePath) {
    match format {
        "png" => (zero_png(w, h), DecodePath::Streamed),
        "png-interlaced" => {
            // Adam7 scanlines of zeros (filter byte 0 included): the same zlib of zeros.
            let mut n = 0u64;
            for (x0, y0, dx, dy) in encoders::ADAM7 {
                if w > x0 && h > y0 {
                    n += (h - y0).div_ceil(dy) as u64 * (1 + 3 * (w - x0).div_ceil(dx) as u64);
                }
            }
            let idat = zeros_zlib(n);
            let png = encoders::png_file(w, h, 2, 1, &idat);
            (png, DecodePath::ReducedInterlaced { denominator: 4 })
        }
        "bmp-rle" => (encoders::bmp_rle_zeros(w, h), DecodePath::Streamed),
        "tiff" => (encoders::tiff_zero_bomb(w, h), DecodePath::Streamed),
        "gif" => {
            let frame = image::GrayImage::new(w, h);
            let palette = [[0u8, 0, 0], [255, 255, 255]];
            let gif =
                encoders::gif_file((w as u16, h as u16), (0, 0), &frame, &palette, None, false);
            (gif, DecodePath::Streamed)
        }
        other => panic!("no bomb format {other}"),
    }
}

fn peak_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

/// Run alone in a child process by the tests below (peak memory is per process).
#[test]
#[ignore = "run by the bounded-memory tests below"]
fn bomb_child() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let (format, size) = spec.split_once(':').unwrap_or(("png", &spec));
    let (w, h) = size.split_once('x').unwrap();
    let (w, h): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
    let (bytes, path) = bomb(format, w, h);
    // Generating the file may take more than hashing it: the peak counts from here (Linux
    // resets VmHWM to the current RSS on `5` written to clear_refs).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let base = peak_kb();
    let t = Instant::now();
    let s = hash_image_bytes(&bytes, &service()).unwrap();
    let took = t.elapsed();
    assert_eq!(s.decode_path, path);
    assert_eq!((s.width, s.height), (w, h));
    println!(
        "CHILD file_bytes={} ms={} peak_kb={} base_kb={base} quality={}",
        bytes.len(),
        took.as_millis(),
        peak_kb(),
        s.pdq.quality
    );
}

/// Runs `bomb_child` on `spec` (`format:WxH`), returns its peak RSS in KiB above what it held
/// before hashing (the file itself included), with the line it printed.
fn child_peak(spec: &str) -> Option<(u64, String)> {
    if !std::path::Path::new("/proc/self/clear_refs").exists() {
        return None; // peak RSS is read (and reset) through Linux's /proc
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "bomb_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, spec)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find(|l| l.contains("CHILD "))
        .unwrap_or_else(|| panic!("{text}"))
        .to_owned();
    println!("{spec}: {line}");
    let field = |k: &str| -> u64 {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(&format!("{k}=")))
            .unwrap()
            .parse()
            .unwrap()
    };
    Some((field("peak_kb"), line))
}

#[test]
fn a_real_bomb_within_the_bound_is_hashed_in_bounded_memory() {
    // 20,000 × 20,000 RGB: 1.2 GB of pixels (and 1.6 GB of floats for an in-memory PDQ) in a
    // 7.5 MB file, 400 MP: over the 64 MP limit, within the 1.07 GP bound, so it is hashed.
    // The file (7.5 MB) plus the stream's rows: far below the 1.2 GB of pixels.
    if let Some((peak, line)) = child_peak("png:20000x20000") {
        assert!(peak < 100 * 1024, "{line}");
    }
}

#[test]
fn bmp_tiff_gif_bombs_stream_in_bounded_memory() {
    // 20,000 × 20,000 (GIF: 12,000 × 12,000, its sides are 16-bit): decoded whole, 1.2 GB of
    // RGB (GIF: 576 MB of RGBA); streamed, the file plus a band of rows and the PDQ stream.
    for spec in ["bmp-rle:20000x20000", "tiff:20000x20000", "gif:12000x12000"] {
        if let Some((peak, line)) = child_peak(spec) {
            assert!(peak < 100 * 1024, "{line}");
        }
    }
}

#[test]
fn an_interlaced_png_bomb_is_hashed_at_a_reduced_scale_in_bounded_memory() {
    // 20,000 × 20,000 interlaced: over 64 MP even at 1/2, so 1/4 (5,000 × 5,000 = 25 MP) from
    // passes 1–3; memory is that reduced image (75 MB of RGB), not the 1.2 GB one.
    if let Some((peak, line)) = child_peak("png-interlaced:20000x20000") {
        assert!(peak < 150 * 1024, "{line}");
    }
}
