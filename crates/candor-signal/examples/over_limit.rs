//! Time and peak memory of hashing one file with a given pixel limit (run as its own process so
//! the peak is this hash's):
//!
//! ```sh
//! cargo run --release -p candor-signal --example over_limit -- make-jpeg /tmp/big.jpg
//! cargo run --release -p candor-signal --example over_limit -- hash /tmp/big.jpg 64000000
//! ```
use candor_signal::{hash_image_bytes, DecodeLimits, ImageOptions};

fn peak_kb() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned())
        })
        .unwrap_or_else(|| "?".into())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("make-jpeg") => {
            // aaa-orig.jpg upscaled to 10,400 × 6,526 (67.9 MP), JPEG quality 90.
            let orig = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../testdata/pdq/images/reference/bridge-mods/aaa-orig.jpg"
            );
            let img = image::open(orig).expect("testdata present").to_rgb8();
            let big =
                image::imageops::resize(&img, 10_400, 6_526, image::imageops::FilterType::Triangle);
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
                .encode_image(&big)
                .unwrap();
            std::fs::write(&args[2], &out).unwrap();
            println!("{}: {} bytes", args[2], out.len());
        }
        Some("zero-png") => {
            // A black RGB PNG of W × H (a decompression bomb when large).
            let (w, h): (u32, u32) = (args[2].parse().unwrap(), args[3].parse().unwrap());
            let file = std::io::BufWriter::new(std::fs::File::create(&args[4]).unwrap());
            let mut enc = png::Encoder::new(file, w, h);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            enc.set_compression(png::Compression::High);
            let mut writer = enc.write_header().unwrap();
            let mut stream = writer.stream_writer().unwrap();
            let row = vec![0u8; 3 * w as usize];
            for _ in 0..h {
                std::io::Write::write_all(&mut stream, &row).unwrap();
            }
            stream.finish().unwrap();
            println!(
                "{}: {} bytes",
                args[4],
                std::fs::metadata(&args[4]).unwrap().len()
            );
        }
        Some("hash") => {
            let bytes = std::fs::read(&args[2]).unwrap();
            let max_pixels: u64 = args[3].parse().unwrap();
            let opts = ImageOptions {
                limits: DecodeLimits {
                    max_pixels,
                    ..DecodeLimits::default()
                },
                trim: args.get(4).map(String::as_str) != Some("notrim"),
                ..ImageOptions::default()
            };
            let before = peak_kb();
            let t = std::time::Instant::now();
            let r = hash_image_bytes(&bytes, &opts);
            let took = t.elapsed();
            match r {
                Ok(s) => println!(
                    "{}x{} {:?} pdq {} quality {} in {took:?}; peak RSS {} kB (after reading the file: {before} kB)",
                    s.width,
                    s.height,
                    s.decode_path,
                    s.pdq.hash,
                    s.pdq.quality,
                    peak_kb()
                ),
                Err(e) => println!("{e} in {took:?}; peak RSS {} kB", peak_kb()),
            }
        }
        _ => eprintln!(
            "usage: over_limit make-jpeg OUT | zero-png W H OUT | hash FILE MAX_PIXELS [notrim]"
        ),
    }
}
