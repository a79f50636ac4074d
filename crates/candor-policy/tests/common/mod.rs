#![allow(dead_code)]

use candor_policy::*;

pub const NOW: &str = "2026-11-23T14:10:18Z";

pub fn policy(id: &str, action: Action) -> Policy {
    Policy {
        id: id.into(),
        name: format!("Policy {id}"),
        description: String::new(),
        banks: vec![],
        categories: vec![],
        surfaces: vec![],
        jurisdictions: vec![],
        action,
        max_distance: None,
        decision_ground: DecisionGround::IllegalContent,
        legal_ground: "Law 1".into(),
        explanation: "Because.".into(),
        automated_decision: None,
        enabled: true,
        trigger: Trigger::Match,
        category: None,
        review_priority: None,
    }
}

pub fn unhashable_policy(id: &str, action: Action, category: Category) -> Policy {
    Policy {
        trigger: Trigger::Unhashable,
        category: Some(category),
        ..policy(id, action)
    }
}

pub fn with_banks(mut p: Policy, banks: &[&str]) -> Policy {
    p.banks = banks.iter().map(|s| s.to_string()).collect();
    p
}

pub fn in_js(mut p: Policy, js: &[&str]) -> Policy {
    p.jurisdictions = js.iter().map(|s| s.to_string()).collect();
    p
}

pub fn set_unchecked(policies: Vec<Policy>) -> PolicySet {
    PolicySet {
        policies,
        sampling: Sampling::default(),
    }
}

pub fn set(policies: Vec<Policy>) -> PolicySet {
    let s = PolicySet {
        policies,
        sampling: Sampling::default(),
    };
    s.validate().unwrap();
    s
}

pub fn party(account: &str, j: &str) -> Party {
    Party {
        account: account.into(),
        jurisdiction: j.into(),
    }
}

pub fn ctx(surface: Surface, sender_j: &str, recipients: &[(&str, &str)]) -> ScanContext {
    ScanContext {
        surface,
        content_id: "post_123".into(),
        content_type: ContentType::Image,
        content_type_other: None,
        content_date: Some("2026-11-20".into()),
        sender: party("alice", sender_j),
        recipients: recipients.iter().map(|(a, j)| party(a, j)).collect(),
        audience: None,
    }
}

pub fn pdq(bank: &str, cat: Category, distance: u32) -> Match {
    Match {
        bank: bank.into(),
        bank_category: cat,
        content_id: format!("{bank}-entry-{distance}"),
        signal: SignalType::Pdq,
        distance,
        orientation: None,
        trimmed: false,
    }
}

pub fn exact(bank: &str, cat: Category) -> Match {
    Match {
        signal: SignalType::Md5,
        distance: 0,
        ..pdq(bank, cat, 0)
    }
}
