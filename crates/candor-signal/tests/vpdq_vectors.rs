//! vPDQ bit-exact with PyPI `vpdq` (the vectors of `testdata/vpdq/`, made by its
//! `make_vectors.py`): every frame's hash, quality, frame number and timestamp, and the HMA
//! signal string; the edits of the base clip still match it under vpdq's rules.
#![cfg(feature = "video")]

use std::path::PathBuf;

use candor_signal::vpdq::{parse_signal_string, to_signal_string};
use candor_signal::{hash_video, PdqHash, VpdqFeature, VpdqOptions};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vpdq")
}

struct Vector {
    video: String,
    opts: VpdqOptions,
    features: Vec<VpdqFeature>,
    signal: String,
}

fn vectors() -> Vec<Vector> {
    let text = std::fs::read_to_string(dir().join("expected.json")).expect("expected.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v.as_array()
        .expect("list")
        .iter()
        .map(|c| Vector {
            video: c["video"].as_str().unwrap().to_string(),
            opts: VpdqOptions {
                seconds_per_hash: c["seconds_per_hash"].as_f64().unwrap(),
                width: c["width"].as_u64().unwrap() as u32,
                height: c["height"].as_u64().unwrap() as u32,
                ..VpdqOptions::default()
            },
            features: c["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| VpdqFeature {
                    frame_number: f[0].as_u64().unwrap(),
                    quality: f[1].as_u64().unwrap() as u8,
                    hash: PdqHash::from_hex(f[2].as_str().unwrap()).unwrap(),
                    timestamp: f[3].as_f64().unwrap(),
                })
                .collect(),
            signal: c["signal"].as_str().unwrap().to_string(),
        })
        .collect()
}

fn video(name: &str) -> Vec<u8> {
    std::fs::read(dir().join("videos").join(name)).expect("video")
}

#[test]
fn every_vector_is_bit_exact_with_pypi_vpdq() {
    let vectors = vectors();
    assert!(vectors.len() >= 16);
    let mut frames = 0;
    for v in &vectors {
        let got =
            hash_video(&video(&v.video), &v.opts).unwrap_or_else(|e| panic!("{}: {e}", v.video));
        let ctx = format!(
            "{} (seconds_per_hash {}, {}×{})",
            v.video, v.opts.seconds_per_hash, v.opts.width, v.opts.height
        );
        assert_eq!(got.len(), v.features.len(), "{ctx}: frame count");
        for (g, w) in got.iter().zip(&v.features) {
            assert_eq!(g.frame_number, w.frame_number, "{ctx}");
            assert_eq!(g.quality, w.quality, "{ctx} frame {}", w.frame_number);
            assert_eq!(
                g.hash.to_hex(),
                w.hash.to_hex(),
                "{ctx} frame {}",
                w.frame_number
            );
            // The same float32 quotient, bit for bit (compared as f32: serde_json's f64 parsing
            // may be an ulp off the text, which holds an f32 exactly).
            assert_eq!(g.timestamp, g.timestamp as f32 as f64, "{ctx}: not an f32");
            assert_eq!(
                (g.timestamp as f32).to_bits(),
                (w.timestamp as f32).to_bits(),
                "{ctx} frame {}",
                w.frame_number
            );
        }
        assert_eq!(to_signal_string(&got), v.signal, "{ctx}: signal string");
        let parsed = parse_signal_string(&v.signal).unwrap();
        assert_eq!(parsed.len(), got.len());
        frames += got.len();
    }
    assert!(frames > 400, "{frames} frames");
}

#[test]
fn the_reference_file_line_form_round_trips() {
    let v = &vectors()[1];
    for f in &v.features {
        let line = f.to_line();
        let back = VpdqFeature::from_line(&line).unwrap();
        assert_eq!(
            (back.frame_number, back.quality, back.hash),
            (f.frame_number, f.quality, f.hash)
        );
        assert_eq!(
            format!("{:.3}", back.timestamp),
            format!("{:.3}", f.timestamp)
        );
    }
}

/// vpdq's matching rule (python-threatexchange `match_VPDQ_hash_brute`): the share of each
/// side's distinct good frames (quality ≥ 50) within distance 31 of some good frame of the other.
fn match_percents(query: &[VpdqFeature], target: &[VpdqFeature]) -> (f64, f64) {
    let good = |v: &[VpdqFeature]| {
        let mut seen = std::collections::HashSet::new();
        v.iter()
            .filter(|f| f.quality >= 50 && seen.insert(f.hash))
            .map(|f| f.hash)
            .collect::<Vec<_>>()
    };
    let (q, t) = (good(query), good(target));
    let share = |a: &[PdqHash], b: &[PdqHash]| {
        let hit = a
            .iter()
            .filter(|x| b.iter().any(|y| x.distance(y) <= 31))
            .count();
        100.0 * hit as f64 / a.len().max(1) as f64
    };
    (share(&q, &t), share(&t, &q))
}

#[test]
fn edits_of_the_base_clip_match_it_and_the_other_clip_does_not() {
    let opts = VpdqOptions::default();
    let base = hash_video(&video("testsrc2.mp4"), &opts).unwrap();
    for edit in [
        "testsrc2-lowrate.mp4",
        "testsrc2-vp9.webm",
        "testsrc2-mpeg4.avi",
        "testsrc2-mjpeg.avi",
        "testsrc2-resized.mp4",
        "testsrc2-watermark.mp4",
    ] {
        let e = hash_video(&video(edit), &opts).unwrap();
        let (q, c) = match_percents(&e, &base);
        assert!(q >= 80.0 && c >= 80.0, "{edit}: {q}% / {c}%");
    }
    // A cut start shifts the sampled frames: every frame hashed, the edit still matches.
    let every = VpdqOptions {
        seconds_per_hash: 0.0,
        ..VpdqOptions::default()
    };
    let base_all = hash_video(&video("testsrc2.mp4"), &every).unwrap();
    let cut = hash_video(&video("testsrc2-cut.mp4"), &opts).unwrap();
    let (q, _) = match_percents(&cut, &base_all);
    assert!(q >= 80.0, "cut: {q}%");
    // A mirror matches through the flipped hashes of the frames (dihedral matching is the
    // matcher's): not as it is.
    let flip = hash_video(&video("testsrc2-hflip.mp4"), &opts).unwrap();
    let (q, _) = match_percents(&flip, &base);
    assert!(q < 80.0, "hflip matched as it is: {q}%");
    let other = hash_video(&video("mandelbrot.mp4"), &opts).unwrap();
    let (q, c) = match_percents(&other, &base);
    assert!(q < 20.0 && c < 20.0, "mandelbrot: {q}% / {c}%");
}

/// What `candor hash` asks of content that is not an image (its binary test needs a build
/// with the `video` feature; this is the library half, which CI's feature phase runs).
#[test]
fn video_signal_is_none_for_non_videos_and_an_error_for_cut_videos() {
    use candor_signal::vpdq::video_signal;
    let opts = VpdqOptions::default();
    assert!(video_signal(b"just some text\n", &opts).is_none());
    assert!(video_signal(
        &std::fs::read(dir().join("make_vectors.py")).unwrap(),
        &opts
    )
    .is_none());
    let clip = video("testsrc2-vp9.webm");
    let v = vectors();
    let want = v
        .iter()
        .find(|v| v.video == "testsrc2-vp9.webm" && v.opts.seconds_per_hash == 1.0)
        .unwrap();
    let got = video_signal(&clip, &opts).unwrap().unwrap();
    assert_eq!(to_signal_string(&got), want.signal);
    let mp4 = video("testsrc2.mp4");
    assert!(video_signal(&mp4[..mp4.len() / 2], &opts).unwrap().is_err());
}
