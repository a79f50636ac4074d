//! No evasion by size or tolerated defects, through the service with the README's policies:
//! a banked image upscaled past the pixel limit, padded past it, truncated, or stored rotated
//! with an EXIF orientation is still matched and withheld; what truly cannot be hashed goes to
//! the published `unhashable` rule.

mod common;

use std::io::Cursor;

use common::*;
use serde_json::{json, Value};

const EXAMPLE: &str = include_str!("../../candor-policy/examples/policies.toml");
const BANKED: &str = "reference/bridge-mods/aaa-orig.jpg";

fn server(dihedral: bool) -> TestServer {
    let s = TestServer::start_with(|c| c.match_dihedral = dihedral);
    s.request(
        "PUT",
        "/v1/policies",
        &s.tokens.curator,
        Some(("application/toml", EXAMPLE.as_bytes().to_vec())),
    )
    .expect(200);
    s.create_bank("tcap-hashes", CAT_TERROR, 31);
    s.post_raw(
        "/v1/banks/tcap-hashes/content",
        &s.tokens.curator,
        "image/jpeg",
        image_bytes(BANKED),
    )
    .expect(201);
    s
}

/// A scan of `bytes` from a US sender to a DE recipient (where the list is withheld).
fn scan_to_de(s: &TestServer, puid: &str, bytes: &[u8]) -> Value {
    let ctx = context(puid, "direct", ("us-sam", "US"), &[("de-dora", "DE")]);
    s.post_multipart(
        "/v1/scan",
        &s.tokens.platform,
        &[
            ("context", None, ctx.to_string().as_bytes()),
            ("file", Some("upload.bin"), bytes),
        ],
    )
    .expect(200)
    .json()
}

fn original() -> image::RgbImage {
    image::load_from_memory(&image_bytes(BANKED))
        .unwrap()
        .to_rgb8()
}

fn jpeg(img: &image::RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .unwrap();
    out
}

fn png(img: &image::RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn upscaled_padded_and_truncated_copies_are_withheld() {
    let s = server(true);

    // 10,400 × 6,526 (68 MP, over the 64 MP decode limit): hashed at a reduced DCT scale.
    let big = image::imageops::resize(&original(), 10_400, 6_526, image::imageops::Triangle);
    let big_jpeg = jpeg(&big, 85);
    drop(big);
    let r = scan_to_de(&s, "big-1", &big_jpeg);
    assert_eq!(action_of(&r, "de-dora"), "withhold", "{r}");
    assert_eq!(
        r["signals"]["decode"], "reduced_jpeg_1/2",
        "{}",
        r["signals"]
    );
    assert_eq!(r["decisions"][0]["policy"], "terrorist-content-eu");

    // Truncated at 95 % of its bytes, as a browser still shows it.
    let orig = image_bytes(BANKED);
    let cut = &orig[..orig.len() * 95 / 100];
    let r = scan_to_de(&s, "cut-1", cut);
    assert_eq!(r["signals"]["truncated"], true, "{}", r["signals"]);
    assert_eq!(action_of(&r, "de-dora"), "withhold", "{r}");

    // Trailing garbage after the image, and a name that says something else.
    let mut tail = orig.clone();
    tail.extend(std::iter::repeat_n(0xA5u8, 100_000));
    let r = scan_to_de(&s, "tail-1", &tail);
    assert_eq!(action_of(&r, "de-dora"), "withhold", "{r}");

    // Enlarged to 6,000 × 3,765 and padded with a white frame to 9,000 × 7,500 (67.5 MP) as a
    // PNG: streamed row by row, the frame trimmed. (A frame wider than 40 % of a side is taken
    // for a flat area, not a frame: see the note in ARCHITECTURE.md.)
    let o = image::imageops::resize(&original(), 6_000, 3_765, image::imageops::Triangle);
    let mut framed = image::RgbImage::from_pixel(9_000, 7_500, image::Rgb([255, 255, 255]));
    image::imageops::overlay(&mut framed, &o, 1_500, 1_867);
    let framed_png = png(&framed);
    drop(framed);
    let r = scan_to_de(&s, "framed-1", &framed_png);
    assert_eq!(r["signals"]["decode"], "streamed", "{}", r["signals"]);
    assert_eq!(action_of(&r, "de-dora"), "withhold", "{r}");
    assert!(
        r["matches"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["trimmed"] == true),
        "{r}"
    );
}

/// `jpeg` with an EXIF APP1 segment carrying `orientation`.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&8u32.to_le_bytes()); // IFD0 at 8
    tiff.extend_from_slice(&1u16.to_le_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_le_bytes()); // count 1
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_rotated_copy_matches_by_its_displayed_orientation() {
    // Without dihedral matching, only the displayed-orientation hash can catch it.
    let s = server(false);
    // Stored turned a quarter left, tagged "rotate 90° clockwise to display" (orientation 6):
    // a viewer shows the banked picture.
    let stored = image::imageops::rotate270(&original());
    let tagged = with_exif_orientation(&jpeg(&stored, 92), 6);
    let r = scan_to_de(&s, "exif-1", &tagged);
    assert!(
        r["signals"]["pdq_displayed"].is_string(),
        "{}",
        r["signals"]
    );
    assert_eq!(action_of(&r, "de-dora"), "withhold", "{r}");
    // The same rotated pixels without the tag are not what a viewer shows: not matched here.
    let r = scan_to_de(&s, "exif-0", &jpeg(&stored, 92));
    assert_eq!(action_of(&r, "de-dora"), "deliver", "{r}");
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

#[test]
fn a_decompression_bomb_is_refused_and_held_by_the_published_rule() {
    let s = server(true);
    // A PNG header claiming 200,000 × 200,000 pixels, a few bytes of data.
    let mut bomb = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&200_000u32.to_be_bytes());
    ihdr.extend_from_slice(&200_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut bomb, b"IHDR", &ihdr);
    chunk(
        &mut bomb,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut bomb, b"IEND", &[]);
    let public = json!({
        "surface": "public", "content_id": "bomb-1", "content_type": "CONTENT_TYPE_IMAGE",
        "sender": {"account": "bo", "jurisdiction": "DE"},
        "audience": {"jurisdictions": ["DE"]},
    });
    let r = s
        .post_multipart(
            "/v1/scan",
            &s.tokens.platform,
            &[
                ("context", None, public.to_string().as_bytes()),
                ("file", Some("bomb.png"), &bomb),
            ],
        )
        .expect(200)
        .json();
    assert!(r["signals"]["image_error"].is_string(), "{r}");
    assert_eq!(r["audience"][0]["action"], "hold_for_review", "{r}");
    assert_eq!(r["decisions"][0]["policy"], "unhashable-public-review");
}
