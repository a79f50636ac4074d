//! Every supported format decodes to the same pixels, so to the same hash; GIF hashes its first
//! frame; distance maths on the real hashes in testdata/pdq.
use candor_signal::{hash_decoded, hash_image_bytes, ImageOptions, PdqHash};
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, DynamicImage, Frame, ImageFormat, RgbImage, RgbaImage};
use std::io::Cursor;

fn testdata(rel: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/pdq")
        .join(rel)
}

fn picture() -> RgbImage {
    image::open(testdata("images/synthetic/synth-7-300x200.png"))
        .unwrap()
        .to_rgb8()
}

fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

#[test]
fn lossless_formats_agree_bit_for_bit() {
    let img = DynamicImage::ImageRgb8(picture());
    let want = hash_image_bytes(&encode(&img, ImageFormat::Png), &ImageOptions::default()).unwrap();
    for format in [ImageFormat::Bmp, ImageFormat::Tiff, ImageFormat::WebP] {
        let got = hash_image_bytes(&encode(&img, format), &ImageOptions::default()).unwrap();
        assert_eq!(got.pdq, want.pdq, "{format:?}");
        assert_eq!(got.dihedral, want.dihedral, "{format:?}");
        assert_eq!(got.format, format);
    }
    // The reference vector for this image: the PNG path is the reference's.
    let tsv = std::fs::read_to_string(testdata("pdq-vectors.tsv")).unwrap();
    let row = tsv
        .lines()
        .find(|l| l.starts_with("synthetic/synth-7-300x200.png\t"))
        .unwrap();
    assert_eq!(want.pdq.hash.to_hex(), row.split('\t').nth(3).unwrap());
}

#[test]
fn gif_hashes_its_first_frame() {
    let first = picture();
    let second = image::imageops::flip_vertical(&first);
    // A GIF of the second frame alone, and an animation of both.
    let mut anim = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut anim);
        enc.set_repeat(Repeat::Infinite).unwrap();
        for f in [&first, &second] {
            let rgba: RgbaImage = DynamicImage::ImageRgb8(f.clone()).to_rgba8();
            enc.encode_frame(Frame::from_parts(
                rgba,
                0,
                0,
                Delay::from_numer_denom_ms(100, 1),
            ))
            .unwrap();
        }
    }
    let got = hash_image_bytes(&anim, &ImageOptions::default()).unwrap();
    let only_first = {
        let mut v = Vec::new();
        let mut enc = GifEncoder::new(&mut v);
        enc.encode_frame(Frame::new(
            DynamicImage::ImageRgb8(first.clone()).to_rgba8(),
        ))
        .unwrap();
        drop(enc);
        hash_image_bytes(&v, &ImageOptions::default()).unwrap()
    };
    assert_eq!(got.format, ImageFormat::Gif);
    assert_eq!(got.pdq, only_first.pdq);
    // GIF quantises colours, so compare with the original loosely; the second frame is far.
    let png = hash_decoded(
        &candor_signal::decode::decode(
            &encode(&DynamicImage::ImageRgb8(first), ImageFormat::Png),
            &Default::default(),
            false,
        )
        .unwrap(),
        false,
    );
    assert!(got.pdq.hash.distance(&png.pdq.hash) <= 31);
}

#[test]
fn grey_and_alpha_inputs_hash_as_pillow_converts_them() {
    // Pillow's convert("RGB"): grey replicated, alpha dropped (not composited).
    let rgb = picture();
    let grey = image::imageops::grayscale(&rgb);
    let grey_rgb = DynamicImage::ImageLuma8(grey.clone()).to_rgb8();
    let a = hash_image_bytes(
        &encode(&DynamicImage::ImageLuma8(grey), ImageFormat::Png),
        &ImageOptions::default(),
    )
    .unwrap();
    let b = hash_image_bytes(
        &encode(&DynamicImage::ImageRgb8(grey_rgb), ImageFormat::Png),
        &ImageOptions::default(),
    )
    .unwrap();
    assert_eq!(a.pdq, b.pdq);
    let mut rgba = DynamicImage::ImageRgb8(rgb.clone()).to_rgba8();
    for (i, p) in rgba.pixels_mut().enumerate() {
        p.0[3] = (i % 256) as u8; // alpha varies; colour channels unchanged
    }
    let c = hash_image_bytes(
        &encode(&DynamicImage::ImageRgba8(rgba), ImageFormat::Png),
        &ImageOptions::default(),
    )
    .unwrap();
    let d = hash_image_bytes(
        &encode(&DynamicImage::ImageRgb8(rgb), ImageFormat::Png),
        &ImageOptions::default(),
    )
    .unwrap();
    assert_eq!(c.pdq, d.pdq);
}

fn read_hashes(name: &str) -> Vec<PdqHash> {
    std::fs::read_to_string(testdata(name))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.parse().unwrap())
        .collect()
}

/// An independent popcount over the hex text, nibble by nibble.
fn hex_distance(a: &str, b: &str) -> u32 {
    a.chars()
        .zip(b.chars())
        .map(|(x, y)| (x.to_digit(16).unwrap() ^ y.to_digit(16).unwrap()).count_ones())
        .sum()
}

#[test]
fn needles_each_have_a_haystack_entry_within_31() {
    let needles = read_hashes("needles.txt");
    let haystack = read_hashes("haystack.txt");
    assert_eq!((needles.len(), haystack.len()), (100, 1350));
    for n in &needles {
        let best = haystack.iter().map(|h| n.distance(h)).min().unwrap();
        assert!(best <= 31, "{n}: nearest {best}");
    }
    for (i, n) in needles.iter().enumerate() {
        for h in haystack.iter().skip(i * 13).take(13) {
            assert_eq!(n.distance(h), hex_distance(&n.to_hex(), &h.to_hex()));
            assert_eq!(n.distance(h), h.distance(n));
        }
    }
}
