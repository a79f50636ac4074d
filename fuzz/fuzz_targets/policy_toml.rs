//! `PolicySet::from_toml_str` on arbitrary UTF-8. A set it accepts is valid, round-trips
//! through JSON and TOML to an equal set, has no error lints, and (when small) simulates
//! against a fixed bank list without a panic and with the set's policies in order.
#![no_main]
mod common;

use candor_policy::PolicySet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(set) = PolicySet::from_toml_str(text) {
        common::policy::check_set(&set);
    }
});
