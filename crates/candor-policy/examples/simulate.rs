//! Prints the simulation of `examples/policies.toml` for two example banks:
//! `cargo run -p candor-policy --example simulate [distance]`.

use candor_policy::{simulate, BankInfo, Category, PolicySet, SimOptions};

fn main() {
    let set =
        PolicySet::from_toml_str(include_str!("policies.toml")).expect("the example is valid");
    let banks = [
        BankInfo {
            name: "ncmec-hashes".into(),
            category: Category::ProtectionOfMinors,
            pdq_threshold: 31,
        },
        BankInfo {
            name: "tcap-hashes".into(),
            category: Category::RiskForPublicSecurity,
            pdq_threshold: 31,
        },
    ];
    let distance = std::env::args()
        .nth(1)
        .map(|d| d.parse().expect("a distance"));
    let opts = SimOptions {
        distance,
        ..SimOptions::default()
    };
    let sim = simulate(&set, &banks, &opts).expect("simulation");
    print!("{}", sim.to_text());
}
