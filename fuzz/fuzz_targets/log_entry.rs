//! Log entries: `Entry::decode` accepts only the canonical encoding of a valid entry, so
//! whatever it accepts must re-encode to the very same bytes, validate, and decode again to the
//! same entry. Anything else must be an error, never a panic.
#![no_main]
use candor_log::entry::Entry;
use candor_log::Numbers;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(entry) = Entry::decode(data) else {
        return;
    };
    let encoded = entry.encode();
    assert_eq!(encoded, data, "decode accepted a non-canonical encoding");
    entry.validate().expect("a decoded entry validates");
    assert_eq!(
        entry.encode_checked().expect("a decoded entry encodes"),
        data
    );
    assert_eq!(Entry::decode(&encoded).expect("re-decode"), entry);
    // The published numbers are recomputed from decoded entries.
    let numbers = Numbers::from_entries([&entry]);
    let json = numbers.to_json();
    assert!(serde_json::from_slice::<serde_json::Value>(&json).is_ok());
});
