//! Candor catches ≥ 95% of every edit (crops reported only), with zero false matches, on a set
//! of images of its own making.
#[path = "common/robustness.rs"]
mod robustness;

#[test]
fn edits_are_caught_without_false_matches() {
    let report = robustness::run(60, 480, 360);
    println!("{}", report.markdown());
    assert_eq!(
        report.original_collisions, 0,
        "the set itself must be distinct"
    );
    for e in &report.edits {
        assert_eq!(e.false_matches, 0, "{}: false matches", e.name);
        if e.targeted {
            assert!(
                e.candor_caught * 100 >= e.total * 95,
                "{}: caught {} of {}",
                e.name,
                e.candor_caught,
                e.total
            );
        }
    }
    // The premise: the reference pipeline alone misses bordered images.
    let border = report
        .edits
        .iter()
        .find(|e| e.name == "10% white border")
        .unwrap();
    assert!(border.reference_caught * 100 < border.total * 50);
}
