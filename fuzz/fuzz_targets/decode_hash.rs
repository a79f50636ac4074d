//! Any bytes through the whole signal path: sniff, decode with limits, PDQ, dihedral, trim,
//! digests. Must never panic, abort or allocate past the limits.
//!
//! The input's length picks the limits (every format's files get every setting as the fuzzer
//! grows and shrinks them): half run with the normal pixel limit, half with a tiny one, so the
//! over-the-limit paths (reduced-scale JPEG, streamed PNG, bounded whole decode, streamed
//! border trim) and the Unhashable bound run on small inputs too.
#![no_main]
use candor_signal::{hash_reader, DecodeLimits, ImageOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let selector = data.len() / 2;
    let (max_pixels, max_dimension) = match selector % 4 {
        0 | 1 => (4_000_000, 8192),
        2 => (4_096, 64),
        _ => (256, 16),
    };
    let opts = ImageOptions {
        limits: DecodeLimits {
            max_bytes: 1 << 20,
            max_pixels,
            max_dimension,
            max_alloc: 64 << 20,
            max_stream_pixels: 16_000_000,
            max_stream_dimension: 16_384,
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
        }
        Some(Err(e)) => {
            assert!(e.is_unhashable() || matches!(e, candor_signal::SignalError::NotAnImage))
        }
        None => {}
    }
});
