//! Bad input gets a clear error, never a panic or an unbounded allocation.
use candor_signal::decode::{decode, DecodeLimits};
use candor_signal::{hash_image_bytes, hash_reader, ImageOptions, SignalError};

fn testdata(rel: &str) -> Vec<u8> {
    std::fs::read(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/pdq/images/").to_owned() + rel,
    )
    .unwrap()
}

fn png_chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend_from_slice(kind);
    c.extend_from_slice(data);
    c.extend_from_slice(&crc32(&[kind, data].concat()).to_be_bytes());
    c
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose header claims `w × h` pixels, with a few bytes of pixel data.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    // zlib stream of a few zero bytes
    png.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
    ));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

#[test]
fn decompression_bomb_is_refused_before_allocating() {
    let bomb = png_claiming(60_000, 60_000);
    match decode(&bomb, &DecodeLimits::default(), false) {
        Err(SignalError::TooLarge(m)) => assert!(m.contains("60000"), "{m}"),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let over_dimension = png_claiming(70_000, 10);
    assert!(matches!(
        decode(&over_dimension, &DecodeLimits::default(), false),
        Err(SignalError::TooLarge(_))
    ));
}

#[test]
fn pixel_limit_is_configurable() {
    let bytes = testdata("reference/misc-images/wee.jpg"); // 34 × 42
    let limits = DecodeLimits {
        max_pixels: 1000,
        ..DecodeLimits::default()
    };
    let e = decode(&bytes, &limits, false).unwrap_err();
    assert!(
        e.to_string().contains("over the limit of 1000 pixels"),
        "{e}"
    );
}

#[test]
fn truncated_images_are_errors_or_hash_without_panic() {
    for rel in [
        "reference/bridge-mods/aaa-orig.jpg",
        "reference/misc-images/c.png",
        "reference/misc-images/modes/PA.webp",
        "synthetic/synth-7-300x200-P.png",
    ] {
        let bytes = testdata(rel);
        for cut in [
            8,
            20,
            100,
            bytes.len() / 3,
            bytes.len() / 2,
            bytes.len() - 10,
        ] {
            let r = hash_image_bytes(&bytes[..cut], &ImageOptions::default());
            if let Err(e) = &r {
                assert!(!e.to_string().is_empty());
            }
        }
    }
    // A JPEG cut anywhere in its scans (baseline and progressive) is hashed as far as it goes
    // and says so; trailing bytes after a complete JPEG are ignored. (How close the hashes stay
    // is in tests/tolerance.rs.)
    for rel in [
        "reference/bridge-mods/aaa-orig.jpg",
        "reference/reg-test-input/dih/bridge-2-rotate-90.jpg",
    ] {
        let bytes = testdata(rel);
        for cut in [bytes.len() / 2, bytes.len() - 1] {
            let s = hash_image_bytes(&bytes[..cut], &ImageOptions::default()).unwrap();
            assert!(s.truncated.is_some(), "{rel} cut at {cut}");
        }
        let mut padded = bytes.clone();
        padded.extend_from_slice(b"trailing");
        let s = hash_image_bytes(&padded, &ImageOptions::default()).unwrap();
        assert!(s.truncated.is_none());
    }
    // A PNG cut in its pixel data is hashed from the rows before the cut; cut in its header it
    // is an error.
    let png = testdata("reference/misc-images/c.png");
    let s = hash_image_bytes(&png[..png.len() / 2], &ImageOptions::default()).unwrap();
    let t = s.truncated.expect("reported as truncated");
    assert!(t.rows_decoded.unwrap() < t.rows, "{t:?}");
    let e = hash_image_bytes(&png[..30], &ImageOptions::default()).unwrap_err();
    assert!(matches!(e, SignalError::Decode(_)), "{e}");
    assert!(e.is_unhashable());
}

#[test]
fn garbage_behind_a_magic_number_is_a_decode_error() {
    for magic in [
        &b"\x89PNG\r\n\x1a\n"[..],
        b"\xff\xd8\xff\xe0",
        b"GIF89a",
        b"RIFF\0\0\0\0WEBPVP8 ",
        b"BM",
        b"II*\0",
    ] {
        let mut bytes = magic.to_vec();
        bytes.extend((0..500u32).map(|i| (i * 7919 % 251) as u8));
        match hash_image_bytes(&bytes, &ImageOptions::default()) {
            Err(SignalError::Decode(m))
            | Err(SignalError::TooLarge(m))
            | Err(SignalError::Unhashable { reason: m }) => assert!(!m.is_empty()),
            Err(SignalError::NotAnImage) => {}
            other => panic!("{magic:?}: expected an error, got {other:?}"),
        }
    }
}

#[test]
fn non_images_get_digests_only() {
    let text = b"just some text, not an image".repeat(1000);
    let s = hash_reader(&text[..], &ImageOptions::default()).unwrap();
    assert!(s.image.is_none());
    assert_eq!(s.digests.size, text.len() as u64);
    let empty = hash_reader(&b""[..], &ImageOptions::default()).unwrap();
    assert!(empty.image.is_none());
    assert_eq!(empty.digests.md5_hex(), "d41d8cd98f00b204e9800998ecf8427e");
    assert!(matches!(
        hash_image_bytes(&text, &ImageOptions::default()),
        Err(SignalError::NotAnImage)
    ));
}

#[test]
fn oversized_image_files_still_get_digests() {
    let bytes = testdata("reference/bridge-mods/aaa-orig.jpg");
    let mut opts = ImageOptions::default();
    opts.limits.max_bytes = 10_000;
    let s = hash_reader(&bytes[..], &opts).unwrap();
    assert_eq!(s.digests, candor_signal::digest::digest_bytes(&bytes));
    match s.image {
        Some(Err(SignalError::TooLarge(m))) => assert!(m.contains("10000"), "{m}"),
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn reader_and_bytes_agree() {
    let bytes = testdata("reference/misc-images/c.png");
    let s = hash_reader(&bytes[..], &ImageOptions::default()).unwrap();
    let direct = hash_image_bytes(&bytes, &ImageOptions::default()).unwrap();
    assert_eq!(s.image.unwrap().unwrap(), direct);
    assert_eq!(s.digests, candor_signal::digest::digest_bytes(&bytes));
}

#[test]
fn exif_orientation_is_opt_in() {
    // exif-rotn-6 is stored sideways with EXIF orientation 6 (rotate 90° clockwise to view).
    let bytes = testdata("reference/reg-test-input/exif-rotn/exif-rotn-6.jpg");
    let plain = hash_image_bytes(&bytes, &ImageOptions::default()).unwrap();
    let opts = ImageOptions {
        exif_orient: true,
        ..ImageOptions::default()
    };
    let oriented = hash_image_bytes(&bytes, &opts).unwrap();
    assert_eq!((plain.width, plain.height), (4032, 3024));
    assert_eq!((oriented.width, oriented.height), (3024, 4032));
    // Rotating the pixels is a dihedral transform: one of the plain image's 8 hashes is close.
    let best = plain
        .dihedral
        .iter()
        .map(|h| h.distance(&oriented.pdq.hash))
        .min()
        .unwrap();
    assert!(
        best <= 10,
        "oriented hash is {best} bits from every dihedral hash"
    );
    assert!(plain.pdq.hash.distance(&oriented.pdq.hash) > 31);
}

#[test]
fn a_jpeg_claiming_huge_dimensions_is_refused_before_allocating() {
    // wee.jpg with its frame header (SOF0/SOF2) rewritten to claim 65000 × 65000 pixels.
    let mut bytes = testdata("reference/misc-images/wee.jpg");
    // Walk the marker segments from SOI to the frame header.
    let mut sof = 2;
    while !(bytes[sof] == 0xff && matches!(bytes[sof + 1], 0xc0..=0xc2)) {
        let len = u16::from_be_bytes([bytes[sof + 2], bytes[sof + 3]]) as usize;
        sof += 2 + len;
    }
    // FF Cx, length (2), precision (1), height (2), width (2)
    bytes[sof + 5..sof + 7].copy_from_slice(&65000u16.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&65000u16.to_be_bytes());
    // 4.2 gigapixels is past the bound for hashing at all: refused from the header.
    let t = std::time::Instant::now();
    match hash_image_bytes(&bytes, &ImageOptions::default()) {
        Err(e @ SignalError::Unhashable { .. }) => {
            assert!(e.to_string().contains("65000"), "{e}");
            assert!(e.is_unhashable());
        }
        other => panic!("expected Unhashable, got {other:?}"),
    }
    assert!(t.elapsed() < std::time::Duration::from_secs(1));
    // `decode` itself keeps its pixel limit.
    assert!(matches!(
        decode(&bytes, &DecodeLimits::default(), false),
        Err(SignalError::TooLarge(_))
    ));
}

#[test]
fn over_the_limit_paths_refuse_what_needs_more_than_max_alloc() {
    // A progressive JPEG keeps every coefficient until its last scan: checked before decoding.
    let progressive = testdata("reference/reg-test-input/dih/bridge-2-rotate-90.jpg");
    let tight = |max_alloc| ImageOptions {
        limits: DecodeLimits {
            max_pixels: 100_000,
            max_alloc,
            ..DecodeLimits::default()
        },
        ..ImageOptions::default()
    };
    match hash_image_bytes(&progressive, &tight(1 << 20)) {
        Err(e @ SignalError::Unhashable { .. }) => {
            assert!(e.to_string().contains("coefficients"), "{e}")
        }
        other => panic!("expected Unhashable, got {other:?}"),
    }
    let s = hash_image_bytes(&progressive, &tight(1 << 30)).unwrap();
    assert_eq!(
        s.decode_path,
        candor_signal::DecodePath::ReducedJpeg { denominator: 8 }
    );
    // A WebP (its decoder cannot stream) over the pixel limit is decoded whole only within
    // max_alloc; the same picture as a BMP streams in a fraction of it.
    let img = image::load_from_memory(&testdata("reference/bridge-mods/aaa-orig.jpg")).unwrap();
    let encode = |format| {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    };
    let webp = encode(image::ImageFormat::WebP);
    match hash_image_bytes(&webp, &tight(2 << 20)) {
        Err(e @ SignalError::Unhashable { .. }) => assert!(e.is_unhashable()),
        other => panic!("expected Unhashable, got {other:?}"),
    }
    let s = hash_image_bytes(&webp, &tight(64 << 20)).unwrap();
    assert_eq!(s.decode_path, candor_signal::DecodePath::Bounded);
    let bmp = encode(image::ImageFormat::Bmp);
    let s = hash_image_bytes(&bmp, &tight(2 << 20)).unwrap();
    assert_eq!(s.decode_path, candor_signal::DecodePath::Streamed);
}
