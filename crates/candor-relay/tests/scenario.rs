//! Issue 14's scenario end to end: a fresh `candor serve` (the workspace's `candor` binary), the
//! relay in-process, steps 1–6 over HTTP only (`candor_relay::scenario`), then our own checks
//! of what it reported: every notice's proof verified again with the candor-log crate, the log
//! order of step 3, alice's export covering every decision about her attachments.
//!
//! The `candor` binary is `target/<profile>/candor`, next to this test's directory: `cargo test
//! --workspace` builds every binary of the workspace before it runs tests; with `-p
//! candor-relay` alone, build it first (`cargo build -p candor`).

use std::path::{Path, PathBuf};

use candor_log::entry::{Entry, EntryBody};
use candor_relay::scenario;

fn candor_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join(format!("candor{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: `cargo test --workspace` builds it, or run `cargo build -p candor` first",
        bin.display()
    );
    bin
}

#[test]
fn the_scenario_end_to_end() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let stack = scenario::Stack::start(&candor_bin()).expect("candor and the relay start");
    let report = match scenario::run(&stack, &repo) {
        Ok(r) => r,
        Err(e) => panic!("scenario failed: {e:#}"),
    };
    for line in &report.transcript {
        println!("{line}");
    }
    // Step 3's order in the log: sampled, reviewed, added, then the next send withheld.
    assert_eq!(report.step3_order.len(), 4);
    assert!(report.step3_order.windows(2).all(|w| w[0] < w[1]));
    // Step 6: the export has every decision the relay was told about (at least the five copies
    // of step 2, step 3's withholding, and step 4's three).
    assert!(
        report.alice_decisions.len() >= 9,
        "{:?}",
        report.alice_decisions
    );
    assert!(report.alice_decisions.is_subset(&report.exported_decisions));
    // Every notice's proof, checked again here with the crate, names the notice's entry.
    let verifier = candor_log::Verifier::parse(&report.log_key).expect("log key");
    assert!(report.proofs.len() >= 15, "{}", report.proofs.len());
    let mut kinds = std::collections::BTreeSet::new();
    for (notice, proof) in &report.proofs {
        let ve =
            candor_log::verify_proof_file(proof.as_bytes(), &verifier).expect("proof verifies");
        assert_eq!(Some(ve.index), notice["log_index"].as_u64(), "{notice}");
        assert!(ve.index < report.log_size);
        let entry = Entry::decode(&ve.entry.expect("entry in the proof")).expect("entry decodes");
        let text = String::from_utf8(entry.encode()).unwrap();
        for account in ["alice", "amir", "bruno"] {
            assert!(!text.contains(account), "an account id in the log: {text}");
        }
        kinds.insert(match entry.body {
            EntryBody::Decision(_) => "decision",
            EntryBody::Sampled(_) => "sampled",
            EntryBody::Review(_) => "review",
            EntryBody::BankContent(_) => "bank_content",
            EntryBody::AppealOutcome(_) => "appeal_outcome",
            _ => "other",
        });
    }
    for k in [
        "decision",
        "sampled",
        "review",
        "bank_content",
        "appeal_outcome",
    ] {
        assert!(kinds.contains(k), "no notice proves a {k} entry: {kinds:?}");
    }
}
