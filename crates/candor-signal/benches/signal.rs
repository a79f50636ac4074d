//! Criterion benches of the signal hot paths on the reference photo in testdata/pdq (1600×1004 JPEG).
#[path = "../tests/common/encoders.rs"]
mod encoders;

use candor_signal::decode::{decode, DecodeLimits};
use candor_signal::digest::digest_bytes;
use candor_signal::trim::find_border;
use candor_signal::{hash_image_bytes, ImageOptions, PdqHasher};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

fn photo() -> Vec<u8> {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/pdq/images/reference/bridge-mods/aaa-orig.jpg"
    );
    std::fs::read(p).expect("testdata/pdq images present")
}

fn benches(c: &mut Criterion) {
    let bytes = photo();
    let img = decode(&bytes, &DecodeLimits::default(), false).unwrap();
    let (w, h) = (img.width as usize, img.height as usize);
    let mut g = c.benchmark_group("signal");
    g.sample_size(30);
    g.bench_function("decode_jpeg_1600x1004", |b| {
        b.iter(|| decode(black_box(&bytes), &DecodeLimits::default(), false).unwrap())
    });
    let mut hasher = PdqHasher::new();
    g.bench_function("pdq_rgb_1600x1004", |b| {
        b.iter(|| hasher.hash(black_box(img.pixels()), w, h))
    });
    let out = hasher.hash(img.pixels(), w, h);
    g.bench_function("dihedral_from_dct", |b| {
        b.iter(|| black_box(&out).dihedral())
    });
    g.bench_function("find_border_1600x1004", |b| {
        b.iter(|| find_border(black_box(&img)))
    });
    g.bench_function("hash_image_bytes_jpeg_1600x1004", |b| {
        b.iter(|| hash_image_bytes(black_box(&bytes), &ImageOptions::default()).unwrap())
    });
    let mib: Vec<u8> = (0..(16u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761u32) >> 24) as u8)
        .collect();
    g.throughput(Throughput::Bytes(mib.len() as u64));
    g.bench_function("md5_sha256_16mib", |b| {
        b.iter(|| digest_bytes(black_box(&mib)))
    });
    g.finish();
}

/// A JPEG over the service's 64 MP limit (aaa-orig upscaled to 10,400 × 6,526 = 67.9 MP):
/// hashed at 1/2 scale by the reduced IDCT, against a full decode of the same file with the
/// limit raised. And a PNG streamed row by row against its in-memory decode.
fn over_limit(c: &mut Criterion) {
    let orig = image::load_from_memory(&photo()).unwrap().to_rgb8();
    let big = image::imageops::resize(&orig, 10_400, 6_526, image::imageops::FilterType::Triangle);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&big)
        .unwrap();
    drop(big);
    let limits = |max_pixels| ImageOptions {
        limits: DecodeLimits {
            max_pixels,
            ..DecodeLimits::default()
        },
        ..ImageOptions::default()
    };
    let mut g = c.benchmark_group("over_limit");
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(8));
    g.bench_function("jpeg_67mp_reduced_half", |b| {
        b.iter(|| hash_image_bytes(black_box(&jpeg), &limits(64_000_000)).unwrap())
    });
    g.bench_function("jpeg_67mp_full_decode", |b| {
        b.iter(|| hash_image_bytes(black_box(&jpeg), &limits(100_000_000)).unwrap())
    });
    let mut png = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(orig.clone())
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    let png = png.into_inner();
    g.bench_function("png_1600x1004_streamed", |b| {
        b.iter(|| hash_image_bytes(black_box(&png), &limits(1_000_000)).unwrap())
    });
    g.bench_function("png_1600x1004_in_memory", |b| {
        b.iter(|| hash_image_bytes(black_box(&png), &limits(100_000_000)).unwrap())
    });
    // The formats streamed since (issue 10): each over a 1 MP limit (streamed, or the
    // interlaced PNG from its first passes at 1/2) against its whole decode within 100 MP.
    let grey = image::DynamicImage::ImageRgb8(orig.clone()).to_luma8();
    let encode = |img: image::DynamicImage, format| {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    };
    let (w, h) = (orig.width(), orig.height());
    let grey_idx = |x: u32, y: u32| grey.get_pixel(x, y).0[0].max(1);
    let files = [
        (
            "bmp24",
            encode(
                image::DynamicImage::ImageRgb8(orig.clone()),
                image::ImageFormat::Bmp,
            ),
        ),
        (
            "bmp_rle8",
            encoders::bmp_rle(w, h, &grey_idx, false, &encoders::grey_palette(256)),
        ),
        (
            "tiff_rgb8",
            encode(
                image::DynamicImage::ImageRgb8(orig.clone()),
                image::ImageFormat::Tiff,
            ),
        ),
        ("tiff_tiled", encoders::tiff_tiled(&orig, 256, 256)),
        (
            "gif",
            encoders::gif_file(
                (w as u16, h as u16),
                (0, 0),
                &grey,
                &encoders::grey_palette(256),
                None,
                false,
            ),
        ),
        ("png_interlaced", encoders::interlaced_png(&orig, false)),
    ];
    for (name, bytes) in &files {
        g.bench_function(format!("{name}_1600x1004_over_limit"), |b| {
            b.iter(|| hash_image_bytes(black_box(bytes), &limits(1_000_000)).unwrap())
        });
        g.bench_function(format!("{name}_1600x1004_whole"), |b| {
            b.iter(|| hash_image_bytes(black_box(bytes), &limits(100_000_000)).unwrap())
        });
    }
    g.finish();
}

criterion_group!(signal, benches, over_limit);
criterion_main!(signal);
