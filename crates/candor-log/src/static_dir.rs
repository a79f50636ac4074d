//! A whole log as static files in the C2SP tlog-tiles layout, relative to the log prefix:
//!
//! ```text
//! checkpoint                      signed checkpoint note (origin = key name)
//! tile/<L>/<N>[.p/<W>]            hash tiles for the checkpoint's size
//! tile/entries/<N>[.p/<W>]        entry bundles
//! numbers                         Numbers JSON at the checkpoint's size
//! key                             the verifier key text and a newline
//! ```
//!
//! [`log_files`] builds the files in memory; [`write_static_dir`] writes them under a
//! directory (the only module of this crate doing I/O).

use std::collections::BTreeMap;
use std::path::Path;

use crate::checkpoint::{sign_checkpoint, Checkpoint};
use crate::entry::Entry;
use crate::note::Signer;
use crate::numbers::Numbers;
use crate::stored::StoredHashes;
use crate::tile::{encode_entry_bundle, read_tile_data, tiles_for_size, BUNDLE_WIDTH};
use crate::LogError;

/// Every file of a log of `entries` (encoded entry bytes, in order), its checkpoint signed by
/// `signer` and the given `numbers` (normally [`Numbers::from_entries`] of the same entries).
pub fn log_files(
    entries: &[Vec<u8>],
    signer: &Signer,
    numbers: &Numbers,
) -> Result<(Checkpoint, BTreeMap<String, Vec<u8>>), LogError> {
    let mut stored = StoredHashes::new();
    for e in entries {
        stored.append_entry(e)?;
    }
    let size = stored.size();
    let cp = Checkpoint::new(signer.name(), size, stored.root());
    let mut files = BTreeMap::new();
    files.insert(
        "checkpoint".to_owned(),
        sign_checkpoint(signer, None, &cp, &[])?.into_bytes(),
    );
    for t in tiles_for_size(0, size) {
        files.insert(t.path(), read_tile_data(&t, &stored)?);
        if t.level == 0 {
            let start = (t.index * BUNDLE_WIDTH) as usize;
            let bundle = encode_entry_bundle(&entries[start..start + usize::from(t.width)])?;
            files.insert(t.entries_path(), bundle);
        }
    }
    files.insert("numbers".to_owned(), numbers.to_json());
    files.insert(
        "key".to_owned(),
        format!("{}\n", signer.verifier().to_text()).into_bytes(),
    );
    Ok((cp, files))
}

/// Write `files` (paths relative to `dir`, `/`-separated) under `dir`.
pub fn write_files(dir: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<(), LogError> {
    for (path, data) in files {
        let p = dir.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| LogError::Storage(format!("creating {}: {e}", parent.display())))?;
        }
        std::fs::write(&p, data)
            .map_err(|e| LogError::Storage(format!("writing {}: {e}", p.display())))?;
    }
    Ok(())
}

/// Write the log of `entries` as static files under `dir` (created if needed); entries are
/// encoded with [`Entry::encode_checked`] and the numbers computed from them.
pub fn write_static_dir(
    dir: &Path,
    entries: &[Entry],
    signer: &Signer,
) -> Result<Checkpoint, LogError> {
    let bytes = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            e.encode_checked()
                .map_err(|err| LogError::malformed("log entry", format!("entry {i}: {err}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    write_static_dir_bytes(dir, &bytes, signer, &Numbers::from_entries(entries))
}

/// Write a log of already-encoded entries with the given numbers (tests use it to publish
/// logs that should fail verification).
pub fn write_static_dir_bytes(
    dir: &Path,
    entries: &[Vec<u8>],
    signer: &Signer,
    numbers: &Numbers,
) -> Result<Checkpoint, LogError> {
    let (cp, files) = log_files(entries, signer, numbers)?;
    write_files(dir, &files)?;
    Ok(cp)
}
