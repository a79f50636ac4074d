//! Copies of a banked image that viewers show like the original — upscaled or padded past the
//! pixel limit, cut short, with trailing bytes, renamed, EXIF-rotated — hash within the match
//! threshold (31 bits) of the original's PDQ. Distances are printed (`--nocapture`).
use std::io::Cursor;

use candor_signal::{
    hash_image_bytes, hash_reader, DecodeLimits, DecodePath, ImageOptions, Orientation, PdqHash,
};
use image::{DynamicImage, ImageFormat, RgbImage};

const THRESHOLD: u32 = 31;

fn testdata(rel: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/pdq")
        .join(rel)
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(testdata(&format!("images/{rel}"))).unwrap()
}

/// The reference (bank) hash of a file in pdq-vectors.tsv.
fn bank_hash(rel: &str) -> PdqHash {
    let tsv = std::fs::read_to_string(testdata("pdq-vectors.tsv")).unwrap();
    let row = tsv
        .lines()
        .find(|l| l.starts_with(&format!("{rel}\t")))
        .unwrap();
    row.split('\t').nth(3).unwrap().parse().unwrap()
}

const ORIG: &str = "reference/bridge-mods/aaa-orig.jpg";

/// The service's limits: 64 MP.
fn service() -> ImageOptions {
    ImageOptions {
        limits: DecodeLimits {
            max_pixels: 64_000_000,
            ..DecodeLimits::default()
        },
        ..ImageOptions::default()
    }
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

fn jpeg(img: &DynamicImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .unwrap();
    out
}

fn orig_rgb() -> RgbImage {
    image::load_from_memory(&read(ORIG)).unwrap().to_rgb8()
}

#[test]
fn upscaled_jpeg_over_the_pixel_limit_matches_the_bank_hash() {
    let bank = bank_hash(ORIG);
    // 10,400 × 6,526 = 67.9 MP: over the service's 64 MP limit.
    let big = image::imageops::resize(
        &orig_rgb(),
        10_400,
        6_526,
        image::imageops::FilterType::Triangle,
    );
    let bytes = jpeg(&DynamicImage::ImageRgb8(big), 90);
    let reduced = hash_image_bytes(&bytes, &service()).unwrap();
    assert_eq!(
        reduced.decode_path,
        DecodePath::ReducedJpeg { denominator: 2 }
    );
    assert_eq!((reduced.width, reduced.height), (10_400, 6_526));
    let full = hash_image_bytes(&bytes, &with_max_pixels(100_000_000)).unwrap();
    assert_eq!(full.decode_path, DecodePath::Full);
    let d_bank = reduced.pdq.hash.distance(&bank);
    let d_full = reduced.pdq.hash.distance(&full.pdq.hash);
    println!(
        "upscaled 10400x6526 JPEG ({} bytes): reduced 1/2 vs bank {d_bank}, vs full decode \
         {d_full}; full decode vs bank {}; quality {}",
        bytes.len(),
        full.pdq.hash.distance(&bank),
        reduced.pdq.quality
    );
    assert!(d_bank <= THRESHOLD, "{d_bank}");
    assert!(d_full <= 16, "{d_full}");
    // Over the limit and cut short: the reduced decode reads the rest of the scan as zero bits.
    let cut = hash_image_bytes(&bytes[..bytes.len() * 95 / 100], &service()).unwrap();
    assert_eq!(cut.decode_path, DecodePath::ReducedJpeg { denominator: 2 });
    assert!(cut.truncated.is_some());
    let d_cut = cut.pdq.hash.distance(&bank);
    println!("the same cut at 95 % of its bytes, reduced 1/2: vs bank {d_cut}");
    assert!(d_cut <= THRESHOLD, "{d_cut}");
}

#[test]
fn reduced_scale_decodes_of_reference_jpegs_stay_close() {
    let mut files: Vec<String> = std::fs::read_dir(testdata("images/reference/bridge-mods"))
        .unwrap()
        .map(|e| {
            format!(
                "reference/bridge-mods/{}",
                e.unwrap().file_name().to_string_lossy()
            )
        })
        .collect();
    files.sort();
    files.push("reference/reg-test-input/exif-rotn/exif-rotn-1.jpg".into());
    files.push("reference/reg-test-input/dih/bridge-2-rotate-90.jpg".into());
    let mut worst = [0u32; 3];
    for rel in &files {
        let bytes = read(rel);
        let full = hash_image_bytes(&bytes, &ImageOptions::default()).unwrap();
        let (w, h) = (full.width as u64, full.height as u64);
        let mut line = format!("{rel} {w}x{h}:");
        for (k, d) in [2u64, 4, 8].into_iter().enumerate() {
            let opts = with_max_pixels(w.div_ceil(d) * h.div_ceil(d));
            let r = hash_image_bytes(&bytes, &opts).unwrap();
            assert_eq!(
                r.decode_path,
                DecodePath::ReducedJpeg {
                    denominator: d as u8
                },
                "{rel}"
            );
            let dist = r.pdq.hash.distance(&full.pdq.hash);
            line += &format!(" 1/{d} {dist}");
            // Images at least 512 px a side (64 px or more after 1/8) stay within a few bits.
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
    assert!(worst.iter().all(|&d| d <= 16), "{worst:?}");
}

#[test]
fn png_over_the_pixel_limit_is_streamed_bit_exactly() {
    let img = DynamicImage::ImageRgb8(orig_rgb());
    let png = encode(&img, ImageFormat::Png);
    let whole = hash_image_bytes(&png, &ImageOptions::default()).unwrap();
    assert_eq!(whole.decode_path, DecodePath::Full);
    // Over a lowered limit the PNG is streamed row by row: the same bits.
    let streamed = hash_image_bytes(&png, &with_max_pixels(1_000_000)).unwrap();
    assert_eq!(streamed.decode_path, DecodePath::Streamed);
    assert_eq!(streamed.pdq, whole.pdq);
    assert_eq!(streamed.dihedral, whole.dihedral);
    let d = streamed.pdq.hash.distance(&bank_hash(ORIG));
    println!("PNG of aaa-orig streamed: vs bank {d}");
    assert!(d <= THRESHOLD);
    // Grey and 16-bit PNGs stream with the same colour conversion as the full decode.
    for variant in [
        DynamicImage::ImageLuma8(img.to_luma8()),
        DynamicImage::ImageRgb16(img.to_rgb16()),
        DynamicImage::ImageLuma16(img.to_luma16()),
        DynamicImage::ImageRgba8(img.to_rgba8()),
    ] {
        let png = encode(&variant, ImageFormat::Png);
        let a = hash_image_bytes(&png, &ImageOptions::default()).unwrap();
        let b = hash_image_bytes(&png, &with_max_pixels(1_000_000)).unwrap();
        assert_eq!(b.decode_path, DecodePath::Streamed);
        assert_eq!(a.pdq, b.pdq, "{:?}", variant.color());
    }
    // BMP and TIFF stream too (`tests/streamed.rs` has every layout); WebP cannot, and is
    // decoded whole within max_alloc: the same bits in every case.
    for (format, path) in [
        (ImageFormat::Bmp, DecodePath::Streamed),
        (ImageFormat::Tiff, DecodePath::Streamed),
        (ImageFormat::WebP, DecodePath::Bounded),
    ] {
        let bytes = encode(&img, format);
        let b = hash_image_bytes(&bytes, &with_max_pixels(1_000_000)).unwrap();
        assert_eq!(b.decode_path, path, "{format:?}");
        assert_eq!(b.pdq, whole.pdq, "{format:?}");
    }
}

#[test]
fn padded_png_over_the_pixel_limit_matches_through_its_trimmed_hash() {
    let bank = bank_hash(ORIG);
    let inner = orig_rgb();
    let (pw, ph) = (inner.width() + 800, inner.height() + 600);
    let mut padded = RgbImage::from_pixel(pw, ph, image::Rgb([255, 255, 255]));
    image::imageops::overlay(&mut padded, &inner, 400, 300);
    let png = encode(&DynamicImage::ImageRgb8(padded), ImageFormat::Png);
    // 2400 × 1604 = 3.8 MP over a 1 MP limit stands for a 64 MP limit and a padded 68 MP
    // image: the same code path, at a test's size.
    let s = hash_image_bytes(&png, &with_max_pixels(1_000_000)).unwrap();
    assert_eq!(s.decode_path, DecodePath::Streamed);
    let t = s.trimmed.expect("the white frame is found while streaming");
    assert_eq!(
        (t.border.top, t.border.bottom, t.border.left, t.border.right),
        (300, 300, 400, 400)
    );
    let within = hash_image_bytes(&png, &ImageOptions::default()).unwrap();
    assert_eq!(
        within.trimmed.unwrap(),
        t,
        "streamed trim equals the in-memory one"
    );
    let d = t.pdq.hash.distance(&bank);
    println!(
        "padded PNG {pw}x{ph} streamed: trimmed vs bank {d}, untrimmed vs bank {}",
        s.pdq.hash.distance(&bank)
    );
    assert!(d <= THRESHOLD, "{d}");
}

#[test]
fn truncated_jpeg_and_png_still_match_when_mostly_complete() {
    let bank = bank_hash(ORIG);
    let jpeg = read(ORIG);
    let png = encode(&DynamicImage::ImageRgb8(orig_rgb()), ImageFormat::Png);
    for (name, bytes) in [("jpeg", &jpeg), ("png", &png)] {
        let mut line = format!("truncated {name} (bytes kept: distance to bank):");
        let mut matched_from = None;
        for pct in [50, 60, 70, 75, 80, 85, 88, 90, 92, 95, 97, 98, 99, 100] {
            let cut = bytes.len() * pct / 100 - usize::from(pct == 100);
            let s = hash_image_bytes(&bytes[..cut], &ImageOptions::default()).unwrap();
            // Cut one byte short, a PNG loses only its end chunk's checksum: nothing missing.
            let t = match s.truncated {
                Some(t) => t,
                None if name == "png" && pct == 100 => candor_signal::Truncated {
                    rows_decoded: Some(s.height),
                    rows: s.height,
                },
                None => panic!("{name} cut at {pct}% does not say it is truncated"),
            };
            let d = s.pdq.hash.distance(&bank);
            line += &format!(
                " {pct}% ({}/{} rows): {d};",
                t.rows_decoded.unwrap(),
                t.rows
            );
            if d > THRESHOLD {
                matched_from = None;
            } else if matched_from.is_none() {
                matched_from = Some(pct);
            }
        }
        println!("{line} within {THRESHOLD} from {matched_from:?}%");
        // From 90 % of the bytes on, every cut matches.
        assert!(
            matched_from.is_some_and(|p| p <= 90),
            "{name}: {matched_from:?}"
        );
    }
}

#[test]
fn trailing_garbage_is_ignored() {
    let bank = bank_hash(ORIG);
    let jpeg = read(ORIG);
    let png = encode(&DynamicImage::ImageRgb8(orig_rgb()), ImageFormat::Png);
    let garbage: Vec<u8> = (0..100_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    for (name, bytes) in [("jpeg", jpeg), ("png", png)] {
        let clean = hash_image_bytes(&bytes, &ImageOptions::default()).unwrap();
        let dirty =
            hash_image_bytes(&[&bytes[..], &garbage].concat(), &ImageOptions::default()).unwrap();
        assert_eq!(dirty.pdq, clean.pdq, "{name}");
        assert!(dirty.truncated.is_none());
        let d = dirty.pdq.hash.distance(&bank);
        println!("{name} with 100 kB of trailing garbage: vs bank {d}");
        assert!(d <= THRESHOLD);
    }
}

#[test]
fn file_names_do_not_matter() {
    let bytes = read(ORIG);
    let dir = std::env::temp_dir().join(format!("candor-rename-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let want = hash_image_bytes(&bytes, &ImageOptions::default()).unwrap();
    for name in ["photo.png", "photo.gif", "notes.txt", "no-extension"] {
        let path = dir.join(name);
        std::fs::write(&path, &bytes).unwrap();
        let s = hash_reader(
            std::fs::File::open(&path).unwrap(),
            &ImageOptions::default(),
        )
        .unwrap();
        let img = s.image.expect("sniffed as an image").unwrap();
        assert_eq!(img.format, ImageFormat::Jpeg, "{name}");
        assert_eq!(img.pdq, want.pdq, "{name}");
        assert_eq!(img.pdq.hash.distance(&bank_hash(ORIG)), 0);
    }
    std::fs::remove_dir_all(&dir).unwrap();
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

#[test]
fn exif_rotated_copies_match_through_the_displayed_hash() {
    let bank = bank_hash(ORIG);
    let upright = DynamicImage::ImageRgb8(orig_rgb());
    let mut line =
        String::from("EXIF-rotated copies of aaa-orig (tag: stored vs bank, displayed vs bank):");
    for tag in 2u8..=8 {
        // Store the pixels so that applying the tag shows the upright image.
        let exif = image::metadata::Orientation::from_exif(tag).unwrap();
        let mut stored = upright.clone();
        let inverse = match exif {
            image::metadata::Orientation::Rotate90 => image::metadata::Orientation::Rotate270,
            image::metadata::Orientation::Rotate270 => image::metadata::Orientation::Rotate90,
            o => o,
        };
        stored.apply_orientation(inverse);
        let bytes = with_exif_orientation(&jpeg(&stored, 95), tag as u16);
        let s = hash_image_bytes(&bytes, &ImageOptions::default()).unwrap();
        let shown = s.pdq_displayed.expect("orientation other than 1");
        assert_eq!(shown.exif_orientation, tag);
        assert_eq!(shown.pdq.hash, s.dihedral[shown.orientation.index()]);
        let d = shown.pdq.hash.distance(&bank);
        line += &format!(" {tag}: {} / {d};", s.pdq.hash.distance(&bank));
        assert!(d <= THRESHOLD, "tag {tag}: {d}");
        // The displayed hash agrees with decoding with the orientation applied.
        let applied = hash_image_bytes(
            &bytes,
            &ImageOptions {
                exif_orient: true,
                ..ImageOptions::default()
            },
        )
        .unwrap();
        assert!(applied.pdq_displayed.is_none());
        assert!(
            applied.pdq.hash.distance(&shown.pdq.hash) <= 16,
            "tag {tag}"
        );
    }
    println!("{line}");
    // The reference's own EXIF test images (different photos): the displayed hash against
    // decoding with the orientation applied.
    for (tag, o) in [
        (3u8, Orientation::Rotate180),
        (6, Orientation::Rotate270),
        (8, Orientation::Rotate90),
    ] {
        let bytes = read(&format!(
            "reference/reg-test-input/exif-rotn/exif-rotn-{tag}.jpg"
        ));
        let s = hash_image_bytes(&bytes, &ImageOptions::default()).unwrap();
        let shown = s.pdq_displayed.unwrap();
        assert_eq!((shown.exif_orientation, shown.orientation), (tag, o));
        let applied = hash_image_bytes(
            &bytes,
            &ImageOptions {
                exif_orient: true,
                ..ImageOptions::default()
            },
        )
        .unwrap();
        let d = shown.pdq.hash.distance(&applied.pdq.hash);
        println!(
            "exif-rotn-{tag}.jpg: displayed vs decoded-and-rotated {d}, stored vs it {}",
            s.pdq.hash.distance(&applied.pdq.hash)
        );
        assert!(d <= 16);
    }
    // No orientation tag, or tag 1: no displayed hash.
    assert!(hash_image_bytes(&read(ORIG), &ImageOptions::default())
        .unwrap()
        .pdq_displayed
        .is_none());
}
