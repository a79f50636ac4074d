//! What the two policy targets check on a set that parsed.

use candor_policy::{diff, lint, simulate, LintLevel, PolicySet, SimOptions};
use std::collections::BTreeSet;

/// Simulating costs (named jurisdictions + 1)² × 3 surfaces × (banks + 1) evaluations: only
/// sets small enough to keep the target fast are simulated (the rest are still linted).
const MAX_SIMULATED_JURISDICTIONS: usize = 3;
const MAX_SIMULATED_POLICIES: usize = 12;

/// `set` came out of `from_toml_str` or `from_json_str`, so it is valid.
pub fn check_set(set: &PolicySet) {
    set.validate().expect("a parsed set is valid");

    // JSON is the API's form and the published one: it must give back the same set.
    let json = set.to_json_string();
    let back = PolicySet::from_json_str(&json).expect("a set's own JSON parses");
    assert_eq!(&back, set, "JSON round trip");
    assert_eq!(back.to_json_string(), json, "JSON is stable");
    // TOML is what operators edit: the same.
    let toml = set.to_toml_string().expect("a valid set writes as TOML");
    let back = PolicySet::from_toml_str(&toml).expect("a set's own TOML parses");
    assert_eq!(&back, set, "TOML round trip");

    let banks = super::banks();
    let lints = lint(set, &banks);
    assert!(
        lints.iter().all(|l| l.level != LintLevel::Error),
        "a valid set has error lints: {lints:?}"
    );

    let named: BTreeSet<&str> = set
        .policies
        .iter()
        .flat_map(|p| p.jurisdictions.iter().map(String::as_str))
        .collect();
    if named.len() > MAX_SIMULATED_JURISDICTIONS || set.policies.len() > MAX_SIMULATED_POLICIES {
        return;
    }
    let sim = simulate(set, &banks, &SimOptions::default()).expect("a valid set simulates");
    let ids: Vec<&str> = set.policies.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(sim.policies, ids);
    assert_eq!(sim.blocks.len(), banks.len() + 1);
    assert!(diff(&sim, &sim).is_empty(), "a simulation differs from itself");
    let text = sim.to_text();
    assert!(!text.is_empty());
}
