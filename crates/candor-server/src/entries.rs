//! Appending log entries from inside a write job: encode (canonical, validated), append in the
//! job's transaction, and count it in the published numbers once the transaction commits.

use std::sync::Arc;

use candor_log::entry::{Entry, EntryBody};
use candor_store::{StoreError, WriteCtx};

use crate::App;

/// Append `body` (stamped `time`) to the log in `ctx`'s transaction; returns the entry index.
pub fn append(
    ctx: &mut WriteCtx,
    app: &Arc<App>,
    time: &str,
    body: EntryBody,
) -> Result<u64, StoreError> {
    let entry = Entry::new(time.to_string(), body);
    let bytes = entry.encode_checked()?;
    let index = ctx.append(bytes);
    if app.follows_log() || !app.keeps_index() {
        // On a shared database the follower counts every node's entries in log order; a
        // one-shot command keeps no numbers.
        return Ok(index);
    }
    let app = app.clone();
    let index_change = matches!(entry.body, EntryBody::Bank(_) | EntryBody::BankContent(_));
    ctx.after_commit(move || {
        app.numbers.lock().expect("numbers lock").apply(&entry);
        if index_change {
            app.note_index_change();
        }
    });
    Ok(index)
}

/// Count `times` entries like `like` in the published numbers once the transaction commits,
/// for entries a job encoded and appended itself in bulk (`WriteCtx::append`), such as an
/// import's. The caller guarantees each of them counts exactly as `like` does.
pub fn count_after_commit(ctx: &mut WriteCtx, app: &Arc<App>, like: Entry, times: u64) {
    if app.follows_log() || !app.keeps_index() {
        return;
    }
    let app = app.clone();
    let index_change = matches!(like.body, EntryBody::Bank(_) | EntryBody::BankContent(_));
    ctx.after_commit(move || {
        let mut numbers = app.numbers.lock().expect("numbers lock");
        for _ in 0..times {
            numbers.apply(&like);
        }
        drop(numbers);
        if index_change {
            app.note_index_change();
        }
    });
}
