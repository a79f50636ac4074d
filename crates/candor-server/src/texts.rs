//! What a person is told about the steps that concern their content besides decisions
//! (decision notices are worded by `candor_policy::notice_text`): sampling into review, the
//! review's outcome, a bank addition and the appeal of one. Plain words; every text says where
//! the step is in the transparency log and how to contest it.

/// Unknown content picked for human review under the published sampling policy.
pub fn sampled(puid: &str, surface: &str, rate: f64, log_index: u64) -> String {
    format!(
        "Content you shared (content id {puid:?}, {surface} surface) matched no list of known content. \
         It was delivered, and it was picked at random (about {pct} of such content) for a person to review \
         under the platform's published sampling policy (GET /v1/policies). Only its hashes and the content id \
         are kept for the review, never the content. If the reviewer finds that it breaks a policy and adds it \
         to a list, you will be told and can appeal. This step is entry {log_index} of the public transparency \
         log; open its content_commitment with the content_nonce and puid of this notice.",
        pct = percent(rate)
    )
}

/// `text` as a sentence: trimmed, with a full stop unless it ends in punctuation.
fn sentence(text: &str) -> String {
    let t = text.trim();
    if t.ends_with(['.', '!', '?']) {
        t.to_string()
    } else {
        format!("{t}.")
    }
}

fn percent(rate: f64) -> String {
    let p = rate * 100.0;
    if p >= 1.0 || p == 0.0 {
        format!("{p:.0} %")
    } else {
        format!("{p:.2} %")
    }
}

/// The review of content sampled into review (the held case uses the decision's outcome notice).
pub fn review_outcome(
    confirmed: bool,
    reason: &str,
    added_to: Option<&str>,
    log_index: u64,
) -> String {
    let what = if confirmed {
        match added_to {
            Some(bank) => format!(
                "A person reviewed content you shared and found that it breaks a policy. It was added to the list {bank:?} \
                 (a separate notice says what that means and how to appeal)."
            ),
            None => "A person reviewed content you shared and found that it breaks a policy. Nothing was added to a list \
                     and nothing else happens to content already delivered."
                .to_string(),
        }
    } else {
        "A person reviewed content you shared and found nothing wrong with it. Nothing further happens.".to_string()
    };
    let why = if reason.trim().is_empty() {
        String::new()
    } else {
        format!(" Reasons: {}", sentence(reason))
    };
    format!("{what}{why} This review is entry {log_index} of the public transparency log.")
}

/// A review added the person's content to a bank.
pub fn bank_addition(
    bank: &str,
    category: &str,
    reason: &str,
    policies: &[(String, String)],
    log_index: u64,
) -> String {
    let fed = if policies.is_empty() {
        "No policy acts on this list at the moment; the operator may add one (policies are public at GET /v1/policies)."
            .to_string()
    } else {
        let names: Vec<String> = policies
            .iter()
            .map(|(id, name)| format!("{name} ({id})"))
            .collect();
        format!(
            "The list feeds these published policies, which decide what happens to matching content from now on: {}.",
            names.join("; ")
        )
    };
    let why = if reason.trim().is_empty() {
        String::new()
    } else {
        format!(" The reviewer's reasons: {}", sentence(reason))
    };
    format!(
        "After a person's review, the hashes of content you shared were added to the list {bank:?} (category {category}). \
         Content matching them will be checked against it.{why} {fed} You have the right to appeal the addition; a \
         successful appeal removes the content from the list. The addition is entry {log_index} of the public \
         transparency log; open its content_commitment with the content_nonce and puid of this notice."
    )
}

/// The appeal of a bank addition was decided.
/// To the person whose content a review had added to a bank, when an appeal of a decision
/// that matched it was reversed and the reviewer retracted the content.
pub fn retracted_after_appeal(bank: &str, reason: &str) -> String {
    format!(
        "Your content was removed from the list {bank:?} and no longer matches it: an appeal against a decision it caused was successful. Reasons: {reason}"
    )
}

pub fn addition_appeal_outcome(reversed: bool, bank: &str, reason: &str) -> String {
    if reversed {
        format!(
            "Your appeal was successful: your content was removed from the list {bank:?} and no longer matches it. Reasons: {reason}"
        )
    } else {
        format!(
            "Your appeal was reviewed and the addition of your content to the list {bank:?} was upheld. Reasons: {reason}"
        )
    }
}
