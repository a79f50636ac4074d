//! Fixed inputs shared by the parser targets and `examples/seeds.rs`: the test log key and the
//! banks the policy targets simulate with. Nothing here is secret: the key exists only here.
#![allow(dead_code)]

pub mod policy;

use candor_log::{Signer, Verifier};
use candor_policy::{BankInfo, Category};

/// Name of the test log key (= the checkpoints' origin).
pub const LOG_NAME: &str = "fuzz.candor.example/log";
/// Seed of the test log key.
pub const LOG_SEED: [u8; 32] = [0x5a; 32];

pub fn signer() -> Signer {
    Signer::from_seed(LOG_NAME, &LOG_SEED).expect("valid test key name")
}

pub fn verifier() -> Verifier {
    signer().verifier()
}

/// The two banks of `crates/candor-policy/examples/policies.toml`, and one more.
pub fn banks() -> Vec<BankInfo> {
    vec![
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
        BankInfo {
            name: "scam-hashes".into(),
            category: Category::ScamsAndFraud,
            pdq_threshold: 0,
        },
    ]
}
