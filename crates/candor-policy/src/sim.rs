//! The simulator: what a policy set does for every sender jurisdiction × recipient or audience
//! jurisdiction × surface, for a match in each bank and for content that cannot be hashed; and
//! the difference between two sets.
//!
//! Every cell is filled by [`evaluate_with`] itself (one truth): the simulator builds the scans
//! and reads the answers, it never re-implements the rules.

use crate::dsa::{self, Category};
use crate::eval::evaluate_with;
use crate::model::{Action, Audience, Match, Party, ScanContext, ScanFacts, SignalType, Surface};
use crate::policy::PolicySet;
use crate::statement::Statement;
use crate::{ContentType, Error};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// A bank as the simulator and the lints see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankInfo {
    /// The bank's name (what policies list in `banks`).
    pub name: String,
    /// The bank's DSA category (what policies list in `categories`).
    pub category: Category,
    /// The bank's PDQ threshold (inclusive): a PDQ match farther than this is not a match.
    pub pdq_threshold: u32,
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimOptions {
    /// Only this bank (and no unhashable block); default every bank, then unhashable content.
    #[serde(default)]
    pub bank: Option<String>,
    /// The PDQ distance of the hypothetical match (default 0, i.e. an exact copy). Above a bank's
    /// threshold, nothing in that bank matches.
    #[serde(default)]
    pub distance: Option<u32>,
    /// The statements' application date, RFC 3339 UTC (default [`SIM_NOW`]: the room has no
    /// clock).
    #[serde(default)]
    pub now: Option<String>,
}

/// The default `now` of a simulation.
pub const SIM_NOW: &str = "2026-01-01T00:00:00Z";

/// The reason given for the simulated unhashable content.
pub const SIM_UNHASHABLE_REASON: &str = "the reason the scan gives";

/// What a block of the simulation is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// A PDQ match at the simulated distance in this bank.
    Bank(BankInfo),
    /// Content that could not be hashed (no match).
    Unhashable,
}

impl Subject {
    /// The bank's name, or `unhashable`.
    pub fn name(&self) -> &str {
        match self {
            Subject::Bank(b) => &b.name,
            Subject::Unhashable => "unhashable",
        }
    }
}

/// One answer: content shared from `sender` on `surface`, for a recipient (direct, group) or the
/// audience (public) in `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// The surface.
    pub surface: Surface,
    /// The sender's jurisdiction (the representative code for "any other").
    pub sender: String,
    /// The recipient's or audience's jurisdiction (likewise).
    pub target: String,
    /// The answer.
    pub action: Action,
    /// The deciding policy; `None` exactly when `action` is `deliver`.
    pub policy: Option<String>,
    /// Index into the block's `decisions`; `None` exactly when `action` is `deliver`.
    pub decision: Option<usize>,
}

/// One distinct decision: per surface, sender jurisdiction, policy and action, with the
/// statement a scan reaching all of `jurisdictions` at once would carry (a scan reaching fewer
/// of them lists fewer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimDecision {
    /// The surface.
    pub surface: Surface,
    /// The sender's jurisdiction.
    pub sender: String,
    /// The decision's action.
    pub action: Action,
    /// The deciding policy.
    pub policy_id: String,
    /// The target jurisdictions it answers.
    pub jurisdictions: Vec<String>,
    /// The statement of reasons.
    pub statement: Statement,
}

/// The simulation of one subject (a bank, or unhashable content).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimBlock {
    /// What is simulated.
    pub subject: Subject,
    /// Whether the simulated content counts as a match (false when the distance is above the
    /// bank's threshold; always true for unhashable content, which has no distance).
    pub matched: bool,
    /// Surface (direct, group, public), then sender, then target, in [`Simulation::jurisdictions`]
    /// order followed by [`Simulation::elsewhere`].
    pub cells: Vec<Cell>,
    /// The distinct decisions the cells refer to.
    pub decisions: Vec<SimDecision>,
}

/// What a policy set does, everywhere it can differ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Simulation {
    /// The simulated PDQ distance.
    pub distance: u32,
    /// Every jurisdiction a policy names, sorted.
    pub jurisdictions: Vec<String>,
    /// A valid ISO code no policy names: it stands for "any other jurisdiction" (they all get
    /// the same answers).
    pub elsewhere: String,
    /// The policy ids in set order (the text rendering numbers them from 1).
    pub policies: Vec<String>,
    /// One per bank (in the given order), then unhashable content (unless one bank was asked).
    pub blocks: Vec<SimBlock>,
}

const SURFACES: [Surface; 3] = [Surface::Direct, Surface::Group, Surface::Public];

fn scan(surface: Surface, sender: &str, targets: &[String]) -> ScanContext {
    let (recipients, audience) = if surface == Surface::Public {
        (
            Vec::new(),
            Some(Audience {
                jurisdictions: targets.to_vec(),
            }),
        )
    } else {
        (
            targets
                .iter()
                .map(|j| Party {
                    account: format!("recipient-{j}"),
                    jurisdiction: j.clone(),
                })
                .collect(),
            None,
        )
    };
    ScanContext {
        surface,
        content_id: "simulation".into(),
        content_type: ContentType::Image,
        content_type_other: None,
        content_date: None,
        sender: Party {
            account: "sender".into(),
            jurisdiction: sender.to_string(),
        },
        recipients,
        audience,
    }
}

/// Simulates `set` (assumed valid) for `banks`.
///
/// Jurisdictions: every one a policy names, plus one representative of "any other" (the first
/// ISO 3166-1 code no policy names). Surfaces: direct and group (one recipient per target
/// jurisdiction) and public (an audience). Errors when `opts.bank` is not among `banks`, the
/// distance is above 256, or `opts.now` is not RFC 3339 UTC.
pub fn simulate(
    set: &PolicySet,
    banks: &[BankInfo],
    opts: &SimOptions,
) -> Result<Simulation, Error> {
    let distance = opts.distance.unwrap_or(0);
    if distance > 256 {
        return Err(Error::BadSimulation(format!(
            "distance {distance} is above 256"
        )));
    }
    let now = opts.now.as_deref().unwrap_or(SIM_NOW);
    let named: BTreeSet<&str> = set
        .policies
        .iter()
        .flat_map(|p| p.jurisdictions.iter().map(String::as_str))
        .collect();
    let elsewhere = dsa::iso_countries()
        .find(|c| !named.contains(c))
        .expect("policies name fewer jurisdictions than exist")
        .to_string();
    let jurisdictions: Vec<String> = named.iter().map(|s| s.to_string()).collect();
    let mut all = jurisdictions.clone();
    all.push(elsewhere.clone());

    let mut subjects: Vec<Subject> = Vec::new();
    match &opts.bank {
        Some(name) => {
            let b = banks
                .iter()
                .find(|b| &b.name == name)
                .ok_or_else(|| Error::BadSimulation(format!("no bank {name:?}")))?;
            subjects.push(Subject::Bank(b.clone()));
        }
        None => {
            subjects.extend(banks.iter().cloned().map(Subject::Bank));
            subjects.push(Subject::Unhashable);
        }
    }

    let mut blocks = Vec::with_capacity(subjects.len());
    for subject in subjects {
        let (facts, matched) = match &subject {
            Subject::Bank(b) => {
                let matched = distance <= b.pdq_threshold;
                let matches = if matched {
                    vec![Match {
                        bank: b.name.clone(),
                        bank_category: b.category,
                        content_id: "simulated-entry".into(),
                        signal: SignalType::Pdq,
                        distance,
                        orientation: None,
                        trimmed: false,
                    }]
                } else {
                    Vec::new()
                };
                (
                    ScanFacts {
                        matches,
                        unhashable: None,
                    },
                    matched,
                )
            }
            Subject::Unhashable => (
                ScanFacts {
                    matches: Vec::new(),
                    unhashable: Some(SIM_UNHASHABLE_REASON.into()),
                },
                true,
            ),
        };
        let mut cells = Vec::new();
        let mut decisions: Vec<SimDecision> = Vec::new();
        for surface in SURFACES {
            for sender in &all {
                let ctx = scan(surface, sender, &all);
                let o = evaluate_with(set, &ctx, &facts, now, 1.0)?;
                let base = decisions.len();
                for d in &o.decisions {
                    decisions.push(SimDecision {
                        surface,
                        sender: sender.clone(),
                        action: d.action,
                        policy_id: d.policy_id.clone(),
                        jurisdictions: d.jurisdictions.clone(),
                        statement: d.statement.clone(),
                    });
                }
                let answers: Vec<(Action, Option<usize>)> = if surface == Surface::Public {
                    o.audience.iter().map(|a| (a.action, a.decision)).collect()
                } else {
                    o.recipients
                        .iter()
                        .map(|r| (r.action, r.decision))
                        .collect()
                };
                for (target, (action, decision)) in all.iter().zip(answers) {
                    cells.push(Cell {
                        surface,
                        sender: sender.clone(),
                        target: target.clone(),
                        action,
                        policy: decision.map(|i| o.decisions[i].policy_id.clone()),
                        decision: decision.map(|i| base + i),
                    });
                }
            }
        }
        blocks.push(SimBlock {
            subject,
            matched,
            cells,
            decisions,
        });
    }
    Ok(Simulation {
        distance,
        jurisdictions,
        elsewhere,
        policies: set.policies.iter().map(|p| p.id.clone()).collect(),
        blocks,
    })
}

fn letter(a: Action) -> &'static str {
    match a {
        Action::Block => "B",
        Action::Withhold => "W",
        Action::HoldForReview => "H",
        Action::Deliver => ".",
    }
}

impl Simulation {
    fn label<'a>(&self, j: &'a str) -> &'a str {
        if j == self.elsewhere {
            "other"
        } else {
            j
        }
    }

    /// Jurisdictions as labels, "other" last.
    fn labels(&self, js: &[String]) -> String {
        let mut v: Vec<&str> = js
            .iter()
            .filter(|j| **j != self.elsewhere)
            .map(String::as_str)
            .collect();
        if js.contains(&self.elsewhere) {
            v.push("other");
        }
        v.join(", ")
    }

    fn code(&self, cell: &Cell) -> String {
        match &cell.policy {
            None => ".".into(),
            Some(p) => {
                let n = self
                    .policies
                    .iter()
                    .position(|x| x == p)
                    .map_or(0, |i| i + 1);
                format!("{}{n}", letter(cell.action))
            }
        }
    }

    /// The plain-text rendering (what the CLI prints): a legend, then one block per bank (and
    /// one for unhashable content), each with one table per surface — rows are the sender's
    /// jurisdiction, columns the recipient's (direct, group) or the audience's (public) —
    /// surfaces with identical tables shown together, then the distinct decisions' statements.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Policy simulation, PDQ distance {}. Rows: sender jurisdiction; columns: recipient (direct, group) or audience (public) jurisdiction; \"other\" = any jurisdiction no policy names (simulated as {}).",
            self.distance, self.elsewhere
        );
        let _ = writeln!(
            out,
            "Cells: B block (removed at source), W withhold, H hold for review, . deliver; the number is the deciding policy:"
        );
        for (i, p) in self.policies.iter().enumerate() {
            let _ = writeln!(out, "  {} {p}", i + 1);
        }
        let all: Vec<&str> = self
            .jurisdictions
            .iter()
            .map(String::as_str)
            .chain([self.elsewhere.as_str()])
            .collect();
        for block in &self.blocks {
            out.push('\n');
            match &block.subject {
                Subject::Bank(b) => {
                    let _ = write!(
                        out,
                        "== bank {} ({}, PDQ threshold {})",
                        b.name,
                        b.category.label(),
                        b.pdq_threshold
                    );
                    if !block.matched {
                        let _ = write!(
                            out,
                            ": distance {} is above the threshold, no match",
                            self.distance
                        );
                    }
                    out.push_str(" ==\n");
                }
                Subject::Unhashable => out.push_str("== content that cannot be hashed ==\n"),
            }
            // One table per surface, rendered; surfaces with identical tables merged.
            let mut tables: Vec<(Vec<Surface>, Vec<Vec<String>>)> = Vec::new();
            for surface in SURFACES {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|s| {
                        all.iter()
                            .map(|t| {
                                block
                                    .cells
                                    .iter()
                                    .find(|c| {
                                        c.surface == surface && c.sender == *s && c.target == *t
                                    })
                                    .map_or_else(|| "?".into(), |c| self.code(c))
                            })
                            .collect()
                    })
                    .collect();
                match tables.iter_mut().find(|(_, r)| *r == rows) {
                    Some((ss, _)) => ss.push(surface),
                    None => tables.push((vec![surface], rows)),
                }
            }
            for (surfaces, rows) in &tables {
                let names: Vec<&str> = surfaces.iter().map(|s| s.as_str()).collect();
                let first = &rows[0][0];
                if rows.iter().flatten().all(|c| c == first) {
                    let what = if first == "." {
                        "deliver".to_string()
                    } else {
                        first.clone()
                    };
                    let _ = writeln!(
                        out,
                        "{}: {what} for every sender and recipient",
                        names.join(", ")
                    );
                    continue;
                }
                let _ = writeln!(out, "{}:", names.join(", "));
                let width = rows
                    .iter()
                    .flatten()
                    .map(String::len)
                    .chain(all.iter().map(|j| self.label(j).len()))
                    .max()
                    .unwrap_or(1);
                let _ = write!(out, "  {:<7}", "from\\to");
                for j in &all {
                    let _ = write!(out, " {:>width$}", self.label(j));
                }
                out.push('\n');
                // The sender often does not matter: then one row says so.
                let same = rows.iter().all(|r| r == &rows[0]);
                let labels: Vec<&str> = if same {
                    vec!["any"]
                } else {
                    all.iter().map(|s| self.label(s)).collect()
                };
                for (s, row) in labels.iter().zip(rows) {
                    let _ = write!(out, "  {s:<7}");
                    for c in row {
                        let _ = write!(out, " {c:>width$}");
                    }
                    out.push('\n');
                }
            }
            // The statements, once per (policy, action): their fixed fields and one example.
            let mut seen: BTreeSet<(usize, &str)> = BTreeSet::new();
            for d in &block.decisions {
                let n = self
                    .policies
                    .iter()
                    .position(|x| *x == d.policy_id)
                    .map_or(0, |i| i + 1);
                if !seen.insert((n, letter(d.action))) {
                    continue;
                }
                let st = &d.statement;
                let vis: Vec<&str> = st.decision_visibility.iter().map(|v| v.as_str()).collect();
                let _ = writeln!(
                    out,
                    "  {}{n} {} {}: {}, {}, {}, automated decision {}",
                    letter(d.action),
                    d.policy_id,
                    d.action.as_str(),
                    vis.join("+"),
                    st.decision_ground.as_str(),
                    st.category.as_str(),
                    st.automated_decision.as_str(),
                );
                let _ = writeln!(
                    out,
                    "     e.g. from {} on {} to {}: {}",
                    self.label(&d.sender),
                    d.surface.as_str(),
                    self.labels(&d.jurisdictions),
                    st.decision_facts
                );
            }
        }
        out
    }
}

/// An answer in a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellValue {
    /// The action.
    pub action: Action,
    /// The deciding policy (`None` for deliver).
    pub policy: Option<String>,
}

impl CellValue {
    fn text(&self) -> String {
        match &self.policy {
            None => self.action.as_str().to_string(),
            Some(p) => format!("{} ({p})", self.action.as_str()),
        }
    }
}

/// One cell whose answer differs between two simulations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellChange {
    /// The bank's name, or `unhashable`.
    pub subject: String,
    /// The surface.
    pub surface: Surface,
    /// The sender's jurisdiction, or `other` for any jurisdiction neither set names.
    pub sender: String,
    /// The target's jurisdiction, or `other`.
    pub target: String,
    /// The answer under the current set.
    pub from: CellValue,
    /// The answer under the proposed set.
    pub to: CellValue,
}

fn index(b: &SimBlock) -> BTreeMap<(Surface, &str, &str), CellValue> {
    b.cells
        .iter()
        .map(|c| {
            (
                (c.surface, c.sender.as_str(), c.target.as_str()),
                CellValue {
                    action: c.action,
                    policy: c.policy.clone(),
                },
            )
        })
        .collect()
}

/// The cells whose answer (action or deciding policy) changes from `current` to `proposed`.
///
/// Jurisdictions are the union of both; a jurisdiction one set does not name gets that set's
/// "any other" answer, which is exactly what it would do there. Subjects (banks, unhashable)
/// present in only one simulation are skipped. Order: subject (current's order), surface,
/// sender, target.
pub fn diff(current: &Simulation, proposed: &Simulation) -> Vec<CellChange> {
    let union: BTreeSet<&str> = current
        .jurisdictions
        .iter()
        .chain(&proposed.jurisdictions)
        .map(String::as_str)
        .collect();
    let mut all: Vec<Option<&str>> = union.into_iter().map(Some).collect();
    all.push(None); // any other
    let resolve = |sim: &Simulation, j: Option<&str>| -> String {
        match j {
            Some(j) if sim.jurisdictions.iter().any(|x| x == j) => j.to_string(),
            _ => sim.elsewhere.clone(),
        }
    };
    let mut out = Vec::new();
    for cb in &current.blocks {
        let Some(pb) = proposed
            .blocks
            .iter()
            .find(|b| b.subject.name() == cb.subject.name())
        else {
            continue;
        };
        let (ci, pi) = (index(cb), index(pb));
        for surface in SURFACES {
            for s in &all {
                for t in &all {
                    let (cs, ct) = (resolve(current, *s), resolve(current, *t));
                    let (ps, pt) = (resolve(proposed, *s), resolve(proposed, *t));
                    let (Some(from), Some(to)) = (
                        ci.get(&(surface, cs.as_str(), ct.as_str())),
                        pi.get(&(surface, ps.as_str(), pt.as_str())),
                    ) else {
                        continue;
                    };
                    if from != to {
                        out.push(CellChange {
                            subject: cb.subject.name().to_string(),
                            surface,
                            sender: s.unwrap_or("other").to_string(),
                            target: t.unwrap_or("other").to_string(),
                            from: from.clone(),
                            to: to.clone(),
                        });
                    }
                }
            }
        }
    }
    out
}

/// Groups `items` by key, keeping the order of first appearance.
fn group<K: PartialEq, V>(items: impl IntoIterator<Item = (K, V)>) -> Vec<(K, Vec<V>)> {
    let mut out: Vec<(K, Vec<V>)> = Vec::new();
    for (k, v) in items {
        match out.iter_mut().find(|(x, _)| *x == k) {
            Some((_, vs)) => vs.push(v),
            None => out.push((k, vec![v])),
        }
    }
    out
}

/// Changed cells with the same answer change, gathered: `subject` on `surfaces`, from each of
/// `senders` to each of `targets`, goes `from` → `to`. What [`diff_text`] prints one line each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeGroup {
    /// The bank's name, or `unhashable`.
    pub subject: String,
    /// The surfaces.
    pub surfaces: Vec<Surface>,
    /// The senders' jurisdictions (`other` = any jurisdiction neither set names).
    pub senders: Vec<String>,
    /// The recipients' or audiences' jurisdictions (likewise).
    pub targets: Vec<String>,
    /// The answer under the current set.
    pub from: CellValue,
    /// The answer under the proposed set.
    pub to: CellValue,
}

/// The cells of a [`diff`] gathered by answer change: per (subject, from, to), the senders with
/// the same targets together, then the surfaces with the same senders together; in order of
/// first appearance.
pub fn group_changes(changes: &[CellChange]) -> Vec<ChangeGroup> {
    let mut out = Vec::new();
    let by_answer = group(
        changes
            .iter()
            .map(|c| ((c.subject.as_str(), &c.from, &c.to), c)),
    );
    for ((subject, from, to), cs) in by_answer {
        // (surface, sender) -> targets; then the same targets together; then surfaces with the
        // same senders together.
        let per_sender = group(
            cs.iter()
                .map(|c| ((c.surface, c.sender.as_str()), c.target.as_str())),
        );
        let by_targets = group(per_sender.into_iter().map(|(k, ts)| (ts, k)));
        for (targets, keys) in by_targets {
            let per_surface = group(keys);
            let by_senders = group(per_surface.into_iter().map(|(surface, ss)| (ss, surface)));
            for (senders, surfaces) in by_senders {
                out.push(ChangeGroup {
                    subject: subject.to_string(),
                    surfaces,
                    senders: senders.iter().map(|s| s.to_string()).collect(),
                    targets: targets.iter().map(|s| s.to_string()).collect(),
                    from: from.clone(),
                    to: to.clone(),
                });
            }
        }
    }
    out
}

/// The plain-text rendering of a [`diff`]: the number of changed cells, then one line per
/// [`ChangeGroup`], e.g.
/// `ncmec-hashes direct, group, public from AT, other to DE: block (csam-block) -> withhold (csam-block)`.
pub fn diff_text(changes: &[CellChange]) -> String {
    if changes.is_empty() {
        return "no cell changes\n".into();
    }
    let mut out = format!("{} cell changes:\n", changes.len());
    for g in group_changes(changes) {
        let surfaces: Vec<&str> = g.surfaces.iter().map(|s| s.as_str()).collect();
        let _ = writeln!(
            out,
            "  {} {} from {} to {}: {} -> {}",
            g.subject,
            surfaces.join(", "),
            g.senders.join(", "),
            g.targets.join(", "),
            g.from.text(),
            g.to.text()
        );
    }
    out
}
