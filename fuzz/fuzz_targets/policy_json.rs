//! `PolicySet::from_json_str` on arbitrary UTF-8 (the API's form): the same properties as
//! `policy_toml`.
#![no_main]
mod common;

use candor_policy::PolicySet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(set) = PolicySet::from_json_str(text) {
        common::policy::check_set(&set);
    }
});
