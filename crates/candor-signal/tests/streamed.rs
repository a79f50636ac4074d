//! Images over the pixel limit in BMP, TIFF and GIF are streamed row by row and hash to the same
//! bits as their whole decode (limits raised); interlaced PNGs are decoded from their first
//! Adam7 passes at a reduced scale, within a stated distance. Distances are printed
//! (`--nocapture`).
#[path = "common/encoders.rs"]
mod encoders;

use std::io::Cursor;

use candor_signal::{hash_image_bytes, DecodeLimits, DecodePath, ImageOptions, ImageSignals};
use encoders::*;
use image::{DynamicImage, GrayImage, ImageFormat, RgbImage};

fn testdata(rel: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/pdq/images")
        .join(rel)
}

const ORIG: &str = "reference/bridge-mods/aaa-orig.jpg";

fn orig_rgb() -> RgbImage {
    image::load_from_memory(&std::fs::read(testdata(ORIG)).unwrap())
        .unwrap()
        .to_rgb8()
}

fn with_max_pixels(max_pixels: u64) -> ImageOptions {
    ImageOptions {
        limits: DecodeLimits {
            max_pixels,
            ..DecodeLimits::default()
        },
        ..ImageOptions::default()
    }
}

fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// The whole decode (within the default 100 MP) and the hash over a 1 MP limit.
fn both(bytes: &[u8]) -> (ImageSignals, ImageSignals) {
    let whole = hash_image_bytes(bytes, &ImageOptions::default()).unwrap();
    assert_eq!(whole.decode_path, DecodePath::Full);
    let over = hash_image_bytes(bytes, &with_max_pixels(1_000_000)).unwrap();
    (whole, over)
}

fn assert_same(name: &str, bytes: &[u8], path: DecodePath) {
    let (whole, over) = both(bytes);
    assert_eq!(over.decode_path, path, "{name}");
    assert_eq!(
        (over.width, over.height),
        (whole.width, whole.height),
        "{name}"
    );
    assert_eq!(over.pdq, whole.pdq, "{name}");
    assert_eq!(over.dihedral, whole.dihedral, "{name}");
    assert_eq!(over.trimmed, whole.trimmed, "{name}: trimmed");
}

/// A picture with a flat frame (the trim passes find it) around aaa-orig.
fn framed() -> RgbImage {
    let inner = orig_rgb();
    let mut out = RgbImage::from_pixel(
        inner.width() + 120,
        inner.height() + 80,
        image::Rgb([250, 250, 250]),
    );
    image::imageops::overlay(&mut out, &inner, 60, 40);
    out
}

fn luma(img: &RgbImage) -> GrayImage {
    DynamicImage::ImageRgb8(img.clone()).to_luma8()
}

#[test]
fn bmp_over_the_limit_streams_bit_exactly() {
    let img = orig_rgb();
    let dynamic = DynamicImage::ImageRgb8(img.clone());
    // The image crate's encoder: 24-bit and 32-bit bottom-up, 8-bit grey palette.
    assert_same(
        "bmp rgb24",
        &encode(&dynamic, ImageFormat::Bmp),
        DecodePath::Streamed,
    );
    assert_same(
        "bmp rgba32",
        &encode(
            &DynamicImage::ImageRgba8(dynamic.to_rgba8()),
            ImageFormat::Bmp,
        ),
        DecodePath::Streamed,
    );
    assert_same(
        "bmp grey8",
        &encode(&DynamicImage::ImageLuma8(luma(&img)), ImageFormat::Bmp),
        DecodePath::Streamed,
    );
    assert_same("bmp top-down", &bmp_top_down(&img), DecodePath::Streamed);
    assert_same(
        "bmp framed",
        &encode(&DynamicImage::ImageRgb8(framed()), ImageFormat::Bmp),
        DecodePath::Streamed,
    );
}

#[test]
fn rle_bmp_over_the_limit_streams_bit_exactly() {
    let img = orig_rgb();
    let grey = luma(&img);
    let (w, h) = grey.dimensions();
    // Black bands (deltas over whole rows and row starts), an all-black top (end of bitmap).
    let idx8 = |x: u32, y: u32| -> u8 {
        if y < 30 || (200..230).contains(&y) || (x < 300 && (400..500).contains(&y)) {
            0
        } else {
            grey.get_pixel(x, y).0[0].max(1)
        }
    };
    let rle8 = bmp_rle(w, h, &idx8, false, &grey_palette(256));
    assert_same("bmp rle8", &rle8, DecodePath::Streamed);
    let idx4 = |x: u32, y: u32| -> u8 { idx8(x, y) >> 4 };
    let rle4 = bmp_rle(w, h, &idx4, true, &grey_palette(16));
    assert_same("bmp rle4", &rle4, DecodePath::Streamed);
    // The streamed reader refuses what the whole decode refuses: a cut RLE stream, a delta past
    // the last row.
    for cut in [rle8.len() / 2, rle8.len() - 3] {
        let bytes = &rle8[..cut];
        let whole = hash_image_bytes(bytes, &ImageOptions::default());
        let over = hash_image_bytes(bytes, &with_max_pixels(1_000_000));
        assert!(
            whole.is_err() && over.is_err(),
            "cut at {cut}: {whole:?} / {over:?}"
        );
    }
}

#[test]
fn tiff_over_the_limit_streams_bit_exactly() {
    let img = orig_rgb();
    let dynamic = DynamicImage::ImageRgb8(img.clone());
    // The tiff crate's encoder: strips.
    for (name, variant) in [
        ("rgb8", dynamic.clone()),
        ("grey8", DynamicImage::ImageLuma8(dynamic.to_luma8())),
        ("grey16", DynamicImage::ImageLuma16(dynamic.to_luma16())),
        ("rgb16", DynamicImage::ImageRgb16(dynamic.to_rgb16())),
        ("rgba8", DynamicImage::ImageRgba8(dynamic.to_rgba8())),
    ] {
        assert_same(
            &format!("tiff {name}"),
            &encode(&variant, ImageFormat::Tiff),
            DecodePath::Streamed,
        );
    }
    // Tiles (edge tiles padded), CMYK strips.
    assert_same(
        "tiff tiled",
        &tiff_tiled(&img, 256, 128),
        DecodePath::Streamed,
    );
    assert_same(
        "tiff tiled framed",
        &tiff_tiled(&framed(), 64, 64),
        DecodePath::Streamed,
    );
    assert_same("tiff cmyk", &tiff_cmyk(&img, 7), DecodePath::Streamed);
}

#[test]
fn gif_over_the_limit_streams_bit_exactly() {
    let img = orig_rgb();
    let grey = luma(&img);
    let (w, h) = (grey.width() as u16, grey.height() as u16);
    let palette = grey_palette(256);
    assert_same(
        "gif full screen",
        &gif_file((w, h), (0, 0), &grey, &palette, None, false),
        DecodePath::Streamed,
    );
    // A frame smaller than the screen, off its corner and past its right edge, with a
    // transparent index and a palette shorter than the indices used (black, as decoded whole).
    let short = grey_palette(200);
    let sub = image::imageops::crop_imm(&grey, 0, 0, 1200, 900).to_image();
    assert_same(
        "gif offset frame",
        &gif_file((1100, 1000), (300, 50), &sub, &short, Some(77), false),
        DecodePath::Streamed,
    );
    // An interlaced frame: its indices are held (1 byte a pixel), rows hashed in order.
    assert_same(
        "gif interlaced",
        &gif_file((w, h), (0, 0), &grey, &palette, None, true),
        DecodePath::Bounded,
    );
    assert_same(
        "gif interlaced offset",
        &gif_file((1100, 1000), (300, 50), &sub, &short, Some(5), true),
        DecodePath::Bounded,
    );
}

#[test]
fn interlaced_png_over_the_limit_is_decoded_from_its_first_passes() {
    let mut files: Vec<String> = std::fs::read_dir(testdata("reference/bridge-mods"))
        .unwrap()
        .map(|e| {
            format!(
                "reference/bridge-mods/{}",
                e.unwrap().file_name().to_string_lossy()
            )
        })
        .collect();
    files.sort();
    let mut worst = [0u32; 3];
    for rel in &files {
        let img = image::load_from_memory(&std::fs::read(testdata(rel)).unwrap())
            .unwrap()
            .to_rgb8();
        let png = interlaced_png(&img, false);
        let whole = hash_image_bytes(&png, &ImageOptions::default()).unwrap();
        assert_eq!(whole.decode_path, DecodePath::Full);
        let (w, h) = (img.width() as u64, img.height() as u64);
        let mut line = format!("{rel} {w}x{h} interlaced PNG:");
        for (k, d) in [2u64, 4, 8].into_iter().enumerate() {
            let r =
                hash_image_bytes(&png, &with_max_pixels(w.div_ceil(d) * h.div_ceil(d))).unwrap();
            assert_eq!(
                r.decode_path,
                DecodePath::ReducedInterlaced {
                    denominator: d as u8
                },
                "{rel}"
            );
            assert_eq!((r.width, r.height), (w as u32, h as u32));
            let dist = r.pdq.hash.distance(&whole.pdq.hash);
            line += &format!(" 1/{d} {dist}");
            if w.min(h) >= 512 {
                worst[k] = worst[k].max(dist);
            }
        }
        println!("{line}");
    }
    println!(
        "worst (images ≥ 512 px a side): 1/2 {} 1/4 {} 1/8 {}",
        worst[0], worst[1], worst[2]
    );
    // Subsampling (no averaging) moves the hash a little more than a reduced IDCT.
    assert!(
        worst[0] <= 16 && worst[1] <= 24 && worst[2] <= 32,
        "{worst:?}"
    );
    // Grey, and a file cut inside the passes used: hashed, marked truncated.
    let grey = interlaced_png(&orig_rgb(), true);
    let r = hash_image_bytes(&grey, &with_max_pixels(1_000_000)).unwrap();
    assert_eq!(
        r.decode_path,
        DecodePath::ReducedInterlaced { denominator: 2 }
    );
    let whole = hash_image_bytes(&grey, &ImageOptions::default()).unwrap();
    println!(
        "grey interlaced PNG 1/2: {}",
        r.pdq.hash.distance(&whole.pdq.hash)
    );
    assert!(r.pdq.hash.distance(&whole.pdq.hash) <= 16);
    assert!(r.truncated.is_none());
    let cut = hash_image_bytes(&grey[..grey.len() / 5], &with_max_pixels(1_000_000)).unwrap();
    assert!(cut.truncated.is_some());
}
