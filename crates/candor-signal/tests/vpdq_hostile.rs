//! Hostile, truncated and non-video input to `hash_video`: clear errors, never a panic or a
//! hang; every limit enforced; mutated containers give an error or hashes (a bounded fuzz).
#![cfg(feature = "video")]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use candor_signal::{hash_video, VideoError, VideoLimits, VpdqOptions};
use proptest::prelude::*;

fn testdata(rel: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata")
            .join(rel),
    )
    .expect("test data")
}

fn video(name: &str) -> Vec<u8> {
    testdata(&format!("vpdq/videos/{name}"))
}

/// A raw YUV4MPEG2 stream (4:2:0) with a declared size and `frames` grey frames.
fn y4m(w: u64, h: u64, frames: usize) -> Vec<u8> {
    let mut v = format!("YUV4MPEG2 W{w} H{h} F25:1 Ip A1:1 C420jpeg\n").into_bytes();
    let size = (w * h + 2 * w.div_ceil(2) * h.div_ceil(2)) as usize;
    for i in 0..frames {
        v.extend_from_slice(b"FRAME\n");
        v.extend(std::iter::repeat_n((i * 7 % 256) as u8, size));
    }
    v
}

fn with_limits(f: impl FnOnce(&mut VideoLimits)) -> VpdqOptions {
    let mut o = VpdqOptions::default();
    f(&mut o.limits);
    o
}

#[test]
fn empty_random_and_non_video_input_are_not_videos() {
    let o = VpdqOptions::default();
    assert!(matches!(hash_video(b"", &o), Err(VideoError::NotAVideo(_))));
    let mut x = 0x2545F4914F6CDD1Du64;
    let random: Vec<u8> = (0..65536)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let e = hash_video(&random, &o).unwrap_err();
    assert!(
        matches!(e, VideoError::NotAVideo(_) | VideoError::Decode(_)),
        "{e}"
    );
    assert!(matches!(
        hash_video(b"hello, this is a text file\n", &o),
        Err(VideoError::NotAVideo(_))
    ));
    // Still images belong to the image path.
    for img in [
        "pdq/images/reference/bridge-mods/aaa-orig.jpg",
        "pdq/images/reference/bridge-mods/aaa-orig.png",
    ] {
        if let Ok(bytes) = std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../testdata")
                .join(img),
        ) {
            let e = hash_video(&bytes, &o).unwrap_err();
            assert!(matches!(e, VideoError::NotAVideo(_)), "{img}: {e}");
        }
    }
    // A WAV file: a container with audio and no video stream.
    let samples = 8000u32;
    let mut wav = b"RIFF".to_vec();
    wav.extend((36 + 2 * samples).to_le_bytes());
    wav.extend(b"WAVEfmt ");
    wav.extend(16u32.to_le_bytes());
    wav.extend(1u16.to_le_bytes()); // PCM
    wav.extend(1u16.to_le_bytes()); // mono
    wav.extend(8000u32.to_le_bytes());
    wav.extend(16000u32.to_le_bytes());
    wav.extend(2u16.to_le_bytes());
    wav.extend(16u16.to_le_bytes());
    wav.extend(b"data");
    wav.extend((2 * samples).to_le_bytes());
    wav.extend(std::iter::repeat_n(0u8, 2 * samples as usize));
    let e = hash_video(&wav, &o).unwrap_err();
    assert_eq!(e, VideoError::NotAVideo("no video stream".into()));
}

#[test]
fn truncated_videos_are_errors_or_hashes_of_what_is_there() {
    let o = VpdqOptions::default();
    let full = video("testsrc2.mp4");
    let whole = hash_video(&full, &o).unwrap();
    for cut in [16, 1000, full.len() / 3, full.len() / 2, full.len() - 100] {
        match hash_video(&full[..cut], &o) {
            Err(e) => assert!(!e.to_string().is_empty()),
            Ok(h) => assert!(h.len() <= whole.len(), "{cut}: {} frames", h.len()),
        }
    }
    // The mp4 muxer writes its index last: without it nothing can be read, and the error
    // says it is a video that is cut.
    match hash_video(&full[..full.len() / 2], &o) {
        Err(VideoError::Decode(m)) => assert!(m.contains("cut or corrupt"), "{m}"),
        other => panic!("expected Decode, got {other:?}"),
    }
    // A raw stream cut inside a frame: the frames before the cut are hashed.
    let raw = y4m(64, 48, 30);
    let cut = hash_video(
        &raw[..raw.len() - 1000],
        &VpdqOptions {
            seconds_per_hash: 0.0,
            ..o.clone()
        },
    );
    match cut {
        Ok(h) => assert!(h.len() < 30),
        Err(e) => assert!(matches!(e, VideoError::Decode(_)), "{e}"),
    }
}

#[test]
fn huge_declared_dimensions_are_refused_before_decoding() {
    // Headers claiming 16,000 × 16,000 (past our pixel limit) and 100,000 × 100,000 (past
    // FFmpeg's own) with a few bytes of frame data.
    for (w, want_too_large) in [(16000, true), (100000, false)] {
        let mut v = format!("YUV4MPEG2 W{w} H{w} F25:1 Ip A1:1 C420jpeg\nFRAME\n").into_bytes();
        v.extend_from_slice(&[0u8; 4096]);
        let t = Instant::now();
        let e = hash_video(&v, &VpdqOptions::default()).unwrap_err();
        if want_too_large {
            assert!(matches!(e, VideoError::TooLarge(_)), "{e}");
        }
        assert!(t.elapsed() < Duration::from_secs(10));
    }
}

#[test]
fn frames_under_five_pixels_fail_the_video() {
    let e = hash_video(&y4m(4, 4, 3), &VpdqOptions::default()).unwrap_err();
    assert!(matches!(e, VideoError::Decode(_)), "{e}");
    let small = VpdqOptions {
        width: 4,
        ..VpdqOptions::default()
    };
    assert!(matches!(
        hash_video(&video("testsrc2.mp4"), &small),
        Err(VideoError::Decode(_))
    ));
    let bad = VpdqOptions {
        seconds_per_hash: f64::NAN,
        ..VpdqOptions::default()
    };
    assert!(matches!(
        hash_video(&video("testsrc2.mp4"), &bad),
        Err(VideoError::Decode(_))
    ));
}

#[test]
fn every_limit_is_enforced() {
    let clip = video("testsrc2.mp4"); // 160×120, 25 fps, 6 s, 150 frames
    let too_large = |o: VpdqOptions| match hash_video(&clip, &o) {
        Err(VideoError::TooLarge(m)) => m,
        other => panic!("expected TooLarge, got {other:?}"),
    };
    assert!(too_large(with_limits(|l| l.max_bytes = 1000)).contains("bytes"));
    assert!(too_large(with_limits(|l| l.max_pixels = 160 * 119)).contains("pixels"));
    assert!(too_large(with_limits(|l| l.max_frames = 100)).contains("frames"));
    assert!(too_large(with_limits(|l| l.max_duration_secs = 5.0)).contains("duration"));
    assert!(too_large(with_limits(|l| l.max_time = Duration::ZERO)).contains("longer"));
    // A raw stream cut short declares a duration from its size; the decoded position is
    // checked as well.
    let raw = y4m(64, 48, 100); // 4 s at 25 fps
    let o = with_limits(|l| l.max_duration_secs = 2.0);
    match hash_video(&raw, &o) {
        Err(VideoError::TooLarge(m)) => {
            assert!(m.contains("duration") || m.contains("longer"), "{m}")
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // The limits just above the clip pass.
    let fits = with_limits(|l| {
        l.max_bytes = clip.len() as u64;
        l.max_pixels = 160 * 120;
        l.max_frames = 150;
        l.max_duration_secs = 6.0;
    });
    assert_eq!(hash_video(&clip, &fits).unwrap().len(), 6);
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Splice(usize, usize, usize),
}

fn mutate(base: &[u8], muts: &[Mutation]) -> Vec<u8> {
    let mut v = base.to_vec();
    for m in muts {
        let n = v.len().max(1);
        match *m {
            Mutation::Flip(at, x) => {
                if !v.is_empty() {
                    v[at % n] ^= x | 1;
                }
            }
            Mutation::Truncate(at) => v.truncate(at % n),
            Mutation::Splice(from, to, len) => {
                let (from, to) = (from % n, to % n);
                let len = len.min(v.len() - from);
                let chunk = v[from..from + len].to_vec();
                v.splice(to..to, chunk);
            }
        }
    }
    v
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (any::<usize>(), any::<u8>()).prop_map(|(a, x)| Mutation::Flip(a, x)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => (any::<usize>(), any::<usize>(), 0usize..2048).prop_map(|(a, b, l)| Mutation::Splice(a, b, l)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Mutated MP4, WebM and AVI containers: an error or hashes, in bounded time.
    #[test]
    fn mutated_containers_give_an_error_or_hashes(
        which in 0usize..3,
        muts in proptest::collection::vec(mutation(), 1..12),
    ) {
        let name = ["testsrc2-lowrate.mp4", "testsrc2-vp9.webm", "testsrc2-resized.mp4"][which];
        let bytes = mutate(&video(name), &muts);
        let o = with_limits(|l| l.max_time = Duration::from_secs(20));
        let t = Instant::now();
        match hash_video(&bytes, &o) {
            Ok(h) => prop_assert!(h.len() <= 20, "{} frames", h.len()),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        prop_assert!(t.elapsed() < Duration::from_secs(25));
    }
}
