//! Writes the seed corpus of the `decode_hash` fuzz target: tiny images (64×48 and smaller) of
//! every format, colour mode and layout the decoders take, plus cut, padded and bomb variants.
//! Each seed is written twice, padded to lengths whose selector (`len / 2 % 4`, see
//! `fuzz/fuzz_targets/decode_hash.rs`) is the 4,096-pixel limit (within it) and the 256-pixel
//! one (over it), so both the whole decode and the over-the-limit paths start covered.
//!
//! `cargo run --release -p candor-signal --example fuzz_seeds -- fuzz/seeds/decode_hash`
#[path = "../tests/common/encoders.rs"]
mod encoders;

use std::io::Cursor;
use std::path::PathBuf;

use encoders::*;
use image::{DynamicImage, GrayImage, ImageFormat, Rgb, RgbImage};

/// A small picture: gradients, a disc, a bar, a flat frame of 4 px.
fn picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        if x < 4 || y < 4 || x + 4 >= w || y + 4 >= h {
            return Rgb([240, 240, 240]);
        }
        let (cx, cy) = (x as i32 - w as i32 / 2, y as i32 - h as i32 / 3);
        let disc = cx * cx + cy * cy < (h as i32 / 4).pow(2);
        let bar = (y * 3 / h) == 2 && x % 16 < 8;
        Rgb([
            (x * 255 / w) as u8 ^ if disc { 0x80 } else { 0 },
            (y * 255 / h) as u8,
            if bar { 20 } else { ((x + y) * 2) as u8 },
        ])
    })
}

fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

fn jpeg(img: &DynamicImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .expect("jpeg");
    out
}

/// A JPEG with an EXIF APP1 segment holding only the orientation tag.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    tiff.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]);
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn palette_png(img: &GrayImage) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, img.width(), img.height());
        enc.set_color(png::ColorType::Indexed);
        enc.set_depth(png::BitDepth::Eight);
        let pal: Vec<u8> = grey_palette(256).iter().flatten().copied().collect();
        enc.set_palette(pal);
        let mut w = enc.write_header().expect("png header");
        w.write_image_data(img.as_raw()).expect("png data");
    }
    out
}

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/seeds/decode_hash".into()),
    );
    std::fs::create_dir_all(&dir).expect("seed dir");
    let rgb = picture(64, 48);
    let small = picture(24, 18);
    let img = DynamicImage::ImageRgb8(rgb.clone());
    let grey = img.to_luma8();
    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>| seeds.push((name.to_owned(), bytes));

    // JPEG: colour, grey, small, EXIF-rotated, cut.
    let j = jpeg(&img, 80);
    add("jpeg-rgb", j.clone());
    add(
        "jpeg-grey",
        jpeg(&DynamicImage::ImageLuma8(grey.clone()), 80),
    );
    add(
        "jpeg-small",
        jpeg(&DynamicImage::ImageRgb8(small.clone()), 60),
    );
    add("jpeg-exif6", with_exif_orientation(&j, 6));
    add("jpeg-cut", j[..j.len() * 2 / 3].to_vec());
    // PNG: every colour type, interlaced, cut.
    for (name, v) in [
        ("png-rgb", img.clone()),
        ("png-grey", DynamicImage::ImageLuma8(grey.clone())),
        ("png-rgba", DynamicImage::ImageRgba8(img.to_rgba8())),
        ("png-grey16", DynamicImage::ImageLuma16(img.to_luma16())),
        ("png-rgb16", DynamicImage::ImageRgb16(img.to_rgb16())),
    ] {
        add(name, encode(&v, ImageFormat::Png));
    }
    add("png-palette", palette_png(&grey));
    let interlaced = interlaced_png(&rgb, false);
    add("png-interlaced-rgb", interlaced.clone());
    add("png-interlaced-grey", interlaced_png(&small, true));
    add(
        "png-interlaced-cut",
        interlaced[..interlaced.len() / 3].to_vec(),
    );
    let p = encode(&img, ImageFormat::Png);
    add("png-cut", p[..p.len() * 3 / 4].to_vec());
    // GIF: whole screen, offset frame with transparency, interlaced, cut.
    let pal = grey_palette(256);
    let g = gif_file((64, 48), (0, 0), &grey, &pal, None, false);
    add("gif", g.clone());
    let sub = image::imageops::crop_imm(&grey, 0, 0, 40, 30).to_image();
    add(
        "gif-offset",
        gif_file((50, 40), (20, 6), &sub, &grey_palette(100), Some(3), false),
    );
    add(
        "gif-interlaced",
        gif_file((64, 48), (0, 0), &grey, &pal, None, true),
    );
    add("gif-cut", g[..g.len() / 2].to_vec());
    // WebP (lossless, the image crate's encoder).
    add("webp", encode(&img, ImageFormat::WebP));
    // BMP: 24, 32, 8-bit grey, top-down, RLE8, RLE4 (deltas, end of bitmap), cut, bomb.
    add("bmp-rgb24", encode(&img, ImageFormat::Bmp));
    add(
        "bmp-rgba32",
        encode(&DynamicImage::ImageRgba8(img.to_rgba8()), ImageFormat::Bmp),
    );
    add(
        "bmp-grey8",
        encode(&DynamicImage::ImageLuma8(grey.clone()), ImageFormat::Bmp),
    );
    add("bmp-top-down", bmp_top_down(&small));
    let idx = |x: u32, y: u32| -> u8 {
        if y < 5 || (20..24).contains(&y) || (x < 10 && y > 30) {
            0
        } else {
            grey.get_pixel(x, y).0[0].max(1)
        }
    };
    let rle8 = bmp_rle(64, 48, &idx, false, &grey_palette(256));
    add("bmp-rle8", rle8.clone());
    add(
        "bmp-rle4",
        bmp_rle(64, 48, &|x, y| idx(x, y) >> 4, true, &grey_palette(16)),
    );
    add("bmp-rle8-cut", rle8[..rle8.len() / 2].to_vec());
    add("bmp-rle-bomb", bmp_rle_zeros(250, 250));
    // TIFF: strips (8-bit, 16-bit grey, RGBA), tiles, CMYK, a PackBits bomb, cut.
    let t = encode(&img, ImageFormat::Tiff);
    add("tiff-rgb8", t.clone());
    add(
        "tiff-grey16",
        encode(
            &DynamicImage::ImageLuma16(img.to_luma16()),
            ImageFormat::Tiff,
        ),
    );
    add(
        "tiff-rgba8",
        encode(
            &DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(small.clone()).to_rgba8()),
            ImageFormat::Tiff,
        ),
    );
    add("tiff-tiled", tiff_tiled(&small, 16, 16));
    add("tiff-cmyk", tiff_cmyk(&small, 5));
    add("tiff-bomb", tiff_zero_bomb(250, 250));
    add("tiff-cut", t[..t.len() * 2 / 3].to_vec());

    let mut n = 0;
    for (name, bytes) in &seeds {
        // Pad (trailing bytes every decoder ignores) to selectors 1 (4,096 px) and 3 (256 px).
        for want in [1usize, 3] {
            let mut b = bytes.clone();
            while (b.len() / 2) % 4 != want {
                b.push(0);
            }
            std::fs::write(dir.join(format!("{name}-s{want}")), &b).expect("write seed");
            n += 1;
        }
    }
    println!("{n} seeds in {}", dir.display());
}
