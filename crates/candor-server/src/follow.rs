//! Following the log on a shared database (PostgreSQL, several nodes): every node keeps its own
//! match index, numbers and policies, and applies the changes other nodes commit.
//!
//! The log is the change feed: every bank change, policy change and decision is an entry, in
//! one order for all nodes. A node's follower waits for the store's change notification
//! (PostgreSQL `LISTEN candor_log`, sent by the writer at commit) or `follow_poll_millis`,
//! re-reads the latest checkpoint and replays the entries after the ones it has applied: the
//! numbers count each entry exactly once (on a shared database only the follower counts, never
//! the writing job's after-commit effect), and for the match index the current rows of every
//! bank and content an entry names are re-read and applied (idempotent, so the node's own
//! changes, already applied at commit, are unaffected). A node that was down catches up the
//! same way at start (snapshot, then the entries after it), then keeps following.
//!
//! On SQLite there is one node and one writer: nothing to follow.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use candor_log::entry::{ChangeOp, Entry, EntryBody};

use crate::matcher::BankInfo;
use crate::App;

/// Follow the log until the process ends (spawned by `serve` once the index is loaded).
pub async fn run(app: Arc<App>) {
    let poll = Duration::from_millis(app.config.follow_poll_millis.max(20));
    loop {
        app.store.changed(poll).await;
        if let Err(e) = step(&app).await {
            tracing::warn!(error = %e, "follow: cannot apply the log's new entries; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Apply every entry after the ones this node has applied; returns how many.
pub async fn step(app: &Arc<App>) -> anyhow::Result<u64> {
    let size = app.store.refresh_checkpoint().await?.checkpoint.size;
    let from = app.numbers.lock().expect("numbers lock").tree_size;
    if size <= from {
        return Ok(0);
    }
    let mut deleted: HashSet<String> = HashSet::new();
    let mut contents: HashSet<String> = HashSet::new();
    let mut banks_changed = false;
    let mut policies_changed = false;
    let mut at = from;
    while at < size {
        let batch = app.store.log_entries(at, (size - at).min(4096)).await?;
        anyhow::ensure!(!batch.is_empty(), "log entry {at} is missing");
        for e in batch {
            let entry = Entry::decode(&e).map_err(|e| anyhow::anyhow!("log entry {at}: {e}"))?;
            match &entry.body {
                EntryBody::Bank(b) => {
                    banks_changed = true;
                    if b.op == ChangeOp::Delete {
                        deleted.insert(b.bank.clone());
                    }
                }
                // This node's own change was applied to the index at its commit (an import's
                // 200k rows re-read here would cost more than the import's writes).
                EntryBody::BankContent(_) if app.store.committed_here(at) => {}
                EntryBody::BankContent(c) => {
                    contents.insert(c.content.clone());
                }
                EntryBody::PolicyChange(_) => policies_changed = true,
                _ => {}
            }
            let mut n = app.numbers.lock().expect("numbers lock");
            // Each entry counts once, in order (only this task applies them).
            if n.tree_size == at {
                n.apply(&entry);
            }
            drop(n);
            at += 1;
        }
    }
    // What the index needs, read before taking its lock.
    let db_banks = if banks_changed {
        Some(app.store.match_banks().await?)
    } else {
        None
    };
    let mut new_bank_rows = Vec::new();
    if let Some(db) = &db_banks {
        let known: HashSet<i64> = {
            let m = app.matcher.read().expect("matcher lock");
            m.banks()
                .iter()
                .filter(|(_, info)| !deleted.contains(&info.name))
                .map(|(id, _)| *id)
                .collect()
        };
        for b in db.iter().filter(|b| !known.contains(&b.id)) {
            new_bank_rows.extend(app.store.signals_of_bank(b.id).await?);
        }
    }
    let contents: Vec<String> = contents.into_iter().collect();
    let rows = app.store.signals_of_contents(&contents).await?;
    {
        let mut m = app.matcher.write().expect("matcher lock");
        if let Some(db) = &db_banks {
            let gone: Vec<i64> = m
                .banks()
                .iter()
                .filter(|(id, info)| {
                    deleted.contains(&info.name)
                        || !db.iter().any(|b| b.id == **id && b.name == info.name)
                })
                .map(|(id, _)| *id)
                .collect();
            for id in gone {
                m.remove_bank(id);
            }
            for b in db {
                m.set_bank(b.id, BankInfo::from(b));
            }
        }
        for r in new_bank_rows.iter().chain(rows.iter()) {
            m.apply_row(r);
        }
        if m.has_pending() {
            m.compact_pending();
        }
    }
    if banks_changed || !contents.is_empty() {
        app.note_index_change();
    }
    app.followed
        .fetch_max(size, std::sync::atomic::Ordering::AcqRel);
    if policies_changed {
        if let Some(set) = crate::routes::policies::stored_set(&app.store).await? {
            *app.policies.write().expect("policy lock") = Arc::new(set);
        }
    }
    metrics::counter!("candor_follow_entries_total").increment(size - from);
    app.store.forget_committed_before(size);
    Ok(size - from)
}
