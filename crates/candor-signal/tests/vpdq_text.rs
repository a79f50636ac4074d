//! vPDQ's text forms against the anchor's (no decoding: runs without the `video` feature):
//! python-threatexchange's timestamp text on two hours of timestamps at four frame rates, and
//! every signal string of `testdata/vpdq/expected.json` parsed and formatted back unchanged.

use std::path::PathBuf;

use candor_signal::vpdq::{parse_signal_string, python_precision3, to_signal_string};

fn read(name: &str) -> serde_json::Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/vpdq")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).expect("test data")).expect("json")
}

#[test]
fn timestamps_format_as_python_does() {
    let pairs = read("timestamps.json");
    let pairs = pairs.as_array().unwrap();
    assert!(pairs.len() > 1500);
    for p in pairs {
        // The value is a float32 quotient: read it back through f32 (exact), not f64 text
        // parsing, which may be an ulp off.
        let t = p[0].as_f64().unwrap() as f32 as f64;
        assert_eq!(python_precision3(t), p[1].as_str().unwrap(), "{t}");
    }
}

#[test]
fn signal_strings_round_trip() {
    let vectors = read("expected.json");
    for v in vectors.as_array().unwrap() {
        let signal = v["signal"].as_str().unwrap();
        let features = parse_signal_string(signal).unwrap();
        assert_eq!(features.len(), v["features"].as_array().unwrap().len());
        assert_eq!(to_signal_string(&features), signal);
    }
}
