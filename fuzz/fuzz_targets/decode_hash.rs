//! Any bytes through the whole signal path: sniff, decode with limits, PDQ, dihedral, trim,
//! digests. Must never panic, abort or allocate past the limits.
#![no_main]
use candor_signal::{hash_reader, DecodeLimits, ImageOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = ImageOptions {
        limits: DecodeLimits {
            max_bytes: 1 << 20,
            max_pixels: 4_000_000,
            max_dimension: 8192,
            max_alloc: 64 << 20,
            max_stream_pixels: 64_000_000,
            max_stream_dimension: 65_535,
        },
        exif_orient: data.len() % 2 == 0,
        trim: true,
    };
    let signals = hash_reader(data, &opts).expect("reading a slice cannot fail");
    assert_eq!(signals.digests.size, data.len() as u64);
    if let Some(Ok(img)) = signals.image {
        assert_eq!(img.dihedral[0], img.pdq.hash);
        assert!(img.pdq.quality <= 100);
    }
});
