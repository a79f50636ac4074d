//! Any bytes through the whole signal path: sniff, decode with limits, PDQ, dihedral, trim,
//! digests. Must never panic, abort or allocate past the limits.
//!
//! Small limits throughout, so tiny inputs (the seeds in `fuzz/seeds/decode_hash`, 64×48 and
//! smaller) reach every path: the input's length picks the pixel limit — 16,384 (whole decode),
//! 4,096, 1,024 or 256 pixels (over it: reduced-scale JPEG, interlaced PNG from its first
//! passes, streamed PNG/BMP/TIFF/GIF with their border passes, bounded whole decode) — and
//! whether EXIF orientation and trimming are on. `max_stream_pixels` of 2¹⁶ and `max_alloc` of
//! 8 MiB keep one execution to about a millisecond while a header can still claim far more
//! (the `Unhashable` bound).
#![no_main]
use candor_signal::{hash_reader, DecodeLimits, DecodePath, ImageOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let selector = data.len() / 2;
    let (max_pixels, max_dimension) = match selector % 4 {
        0 => (16_384, 256),
        1 => (4_096, 128),
        2 => (1_024, 64),
        _ => (256, 16),
    };
    let opts = ImageOptions {
        limits: DecodeLimits {
            max_bytes: 1 << 20,
            max_pixels,
            max_dimension,
            max_alloc: 8 << 20,
            max_stream_pixels: 1 << 16,
            max_stream_dimension: 2_048,
        },
        exif_orient: data.len() % 2 == 0,
        trim: (selector / 4) % 2 == 0,
    };
    let signals = hash_reader(data, &opts).expect("reading a slice cannot fail");
    assert_eq!(signals.digests.size, data.len() as u64);
    match signals.image {
        Some(Ok(img)) => {
            assert_eq!(img.dihedral[0], img.pdq.hash);
            assert!(img.pdq.quality <= 100);
            if let Some(d) = img.pdq_displayed {
                assert_eq!(d.pdq.hash, img.dihedral[d.orientation.index()]);
            }
            if let Some(t) = img.truncated {
                if let Some(r) = t.rows_decoded {
                    assert!(r <= t.rows);
                }
            }
            let pixels = img.width as u64 * img.height as u64;
            assert!(pixels <= opts.limits.max_stream_pixels);
            // Within the limits is the whole decode; over them, never.
            let within = pixels <= max_pixels
                && img.width <= max_dimension
                && img.height <= max_dimension;
            match img.decode_path {
                DecodePath::Full => assert!(within, "{img:?}"),
                DecodePath::ReducedJpeg { denominator }
                | DecodePath::ReducedInterlaced { denominator } => {
                    assert!(matches!(denominator, 2 | 4 | 8))
                }
                DecodePath::Streamed | DecodePath::Bounded => {}
            }
        }
        Some(Err(e)) => {
            assert!(e.is_unhashable() || matches!(e, candor_signal::SignalError::NotAnImage))
        }
        None => {}
    }
});
