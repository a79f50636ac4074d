//! What replacing one policy set by another changes in the sets themselves: policy by policy
//! and field by field (which banks, categories, jurisdictions and surfaces are added or
//! removed, the action, the order), and the sampling. What it changes in the answers is
//! [`crate::diff`] over two [`crate::simulate`]s; the two together are the preview a curator
//! sees before saving.

use crate::policy::PolicySet;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One field whose value differs. For lists, `added` and `removed` name the elements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The field's name as in the policy file (`position` is the policy's place in the set,
    /// from 1: the earlier policy wins a tie).
    pub field: String,
    /// The value in the current set (`null`: unset, or the policy is new).
    pub from: Value,
    /// The value in the proposed set (`null`: unset, or the policy is deleted).
    pub to: Value,
    /// List elements only in `to`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    /// List elements only in `from`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

/// What happens to a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Only in the proposed set.
    Created,
    /// In both, with different fields or position.
    Updated,
    /// Only in the current set.
    Deleted,
}

/// One policy that changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyChange {
    /// The policy's id.
    pub policy: String,
    /// Created, updated or deleted.
    pub change: ChangeKind,
    /// The fields that differ (for a created or deleted policy, every field it sets).
    pub fields: Vec<FieldChange>,
}

/// Everything that differs between two sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetChanges {
    /// Policies created, updated or deleted: the proposed set's order, then the deleted ones.
    pub policies: Vec<PolicyChange>,
    /// The sampling fields that differ.
    pub sampling: Vec<FieldChange>,
}

fn element(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn fields(from: &Value, to: &Value) -> Vec<FieldChange> {
    let empty = serde_json::Map::new();
    let (f, t) = (
        from.as_object().unwrap_or(&empty),
        to.as_object().unwrap_or(&empty),
    );
    // Field order: the proposed (else current) value's declared order.
    let mut names: Vec<&String> = t.keys().collect();
    names.extend(f.keys().filter(|k| !t.contains_key(*k)));
    let mut out = Vec::new();
    for name in names {
        let a = f.get(name).cloned().unwrap_or(Value::Null);
        let b = t.get(name).cloned().unwrap_or(Value::Null);
        let blank = |v: &Value| v.is_null() || v.as_array().is_some_and(|l| l.is_empty());
        if a == b || (blank(&a) && blank(&b)) {
            continue;
        }
        let list = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|l| l.iter().map(element).collect())
                .unwrap_or_default()
        };
        let (la, lb) = (list(&a), list(&b));
        out.push(FieldChange {
            field: name.clone(),
            added: lb.iter().filter(|x| !la.contains(x)).cloned().collect(),
            removed: la.iter().filter(|x| !lb.contains(x)).cloned().collect(),
            from: a,
            to: b,
        });
    }
    out
}

/// The differences from `current` to `proposed` (both assumed valid).
pub fn policy_changes(current: &PolicySet, proposed: &PolicySet) -> SetChanges {
    let json = |p| serde_json::to_value(p).unwrap_or(Value::Null);
    let mut policies = Vec::new();
    for (i, p) in proposed.policies.iter().enumerate() {
        let old = current.policies.iter().position(|c| c.id == p.id);
        let (change, from) = match old {
            None => (ChangeKind::Created, Value::Null),
            Some(j) => (ChangeKind::Updated, json(&current.policies[j])),
        };
        let mut fs = fields(&from, &json(p));
        if let Some(j) = old {
            if j != i {
                fs.push(FieldChange {
                    field: "position".into(),
                    from: (j + 1).into(),
                    to: (i + 1).into(),
                    added: Vec::new(),
                    removed: Vec::new(),
                });
            }
        }
        if !fs.is_empty() {
            policies.push(PolicyChange {
                policy: p.id.clone(),
                change,
                fields: fs,
            });
        }
    }
    for c in &current.policies {
        if !proposed.policies.iter().any(|p| p.id == c.id) {
            policies.push(PolicyChange {
                policy: c.id.clone(),
                change: ChangeKind::Deleted,
                fields: fields(&json(c), &Value::Null),
            });
        }
    }
    SetChanges {
        policies,
        sampling: fields(
            &serde_json::to_value(&current.sampling).unwrap_or(Value::Null),
            &serde_json::to_value(&proposed.sampling).unwrap_or(Value::Null),
        ),
    }
}
