//! [`DigestIndex`]: exact lookup of cryptographic digests (MD5, SHA-1, SHA-256).
use crate::buf::{Buf, Shared};
use crate::format::{checked_len, read_shared, FileView, FileWriter, FormatError, IndexKind};
use crate::hash::{Bitset, EntryId, EntryRef, EntryRefs};
use crate::pdq::{runs_to_words, words_to_runs};
use std::collections::HashMap;
use std::io::{Read, Write};

/// Maps an `N`-byte digest to the entries that carry it. Built entries are found by binary
/// search in an id array sorted by digest (stored in the file, so loading does not re-sort);
/// entries inserted since the last [`compact`](DigestIndex::compact) sit in a hash map. The
/// digests and the sorted array of the last compaction are immutable [`Buf`]s (cheap clones;
/// views into the file when read with [`from_shared`](DigestIndex::from_shared)); later
/// digests are in an owned tail.
#[derive(Clone, Debug, Default)]
pub struct DigestIndex<const N: usize> {
    /// Digests of ids `0..main_len`.
    digests: Buf<[u8; N]>,
    /// Digests of ids `main_len..`.
    tail: Vec<[u8; N]>,
    refs: EntryRefs,
    deleted: Bitset,
    removed: usize,
    order: Buf<u32>,
    main_len: u32,
    pending: HashMap<[u8; N], Vec<u32>>,
}

/// Exact MD5 index.
pub type Md5Index = DigestIndex<16>;
/// Exact SHA-1 index.
pub type Sha1Index = DigestIndex<20>;
/// Exact SHA-256 index.
pub type Sha256Index = DigestIndex<32>;

impl<const N: usize> DigestIndex<N> {
    fn kind() -> Result<IndexKind, FormatError> {
        match N {
            16 => Ok(IndexKind::Md5),
            20 => Ok(IndexKind::Sha1),
            32 => Ok(IndexKind::Sha256),
            _ => Err(FormatError::Invalid(format!(
                "no file kind for {N}-byte digests"
            ))),
        }
    }

    pub fn new() -> Self {
        DigestIndex {
            digests: Buf::default(),
            tail: Vec::new(),
            refs: EntryRefs::default(),
            deleted: Bitset::default(),
            removed: 0,
            order: Buf::default(),
            main_len: 0,
            pending: HashMap::new(),
        }
    }

    pub fn build(entries: impl IntoIterator<Item = ([u8; N], EntryRef)>) -> Self {
        let mut index = Self::new();
        for (d, r) in entries {
            index.insert(d, r);
        }
        index.compact();
        index
    }

    /// Adds an entry; it matches at once.
    pub fn insert(&mut self, digest: [u8; N], r: EntryRef) -> EntryId {
        let id = self.refs.push(r);
        self.tail.push(digest);
        self.pending.entry(digest).or_default().push(id.0);
        id
    }

    /// Removes an entry; it stops matching at once.
    pub fn remove(&mut self, id: EntryId) -> bool {
        let i = id.0 as usize;
        if i >= self.ids() || self.deleted.get(i) {
            return false;
        }
        self.deleted.set(i);
        self.removed += 1;
        true
    }

    /// Entries ever inserted (the next id).
    fn ids(&self) -> usize {
        self.digests.len() + self.tail.len()
    }

    /// Re-sorts the lookup array over all live entries.
    pub fn compact(&mut self) {
        let mut all = Vec::with_capacity(self.ids());
        all.extend_from_slice(&self.digests);
        all.extend_from_slice(&self.tail);
        let mut order: Vec<u32> = (0..all.len() as u32)
            .filter(|&i| !self.deleted.get(i as usize))
            .collect();
        order.sort_unstable_by(|&a, &b| all[a as usize].cmp(&all[b as usize]).then(a.cmp(&b)));
        self.order = order.into();
        self.main_len = all.len() as u32;
        self.digests = all.into();
        self.tail = Vec::new();
        self.pending.clear();
    }

    /// Live entries carrying `digest`, in id order.
    pub fn get(&self, digest: &[u8; N]) -> Vec<EntryId> {
        let lo = self
            .order
            .partition_point(|&i| self.digests[i as usize] < *digest);
        let mut out: Vec<EntryId> = self.order[lo..]
            .iter()
            .take_while(|&&i| self.digests[i as usize] == *digest)
            .filter(|&&i| !self.deleted.get(i as usize))
            .map(|&i| EntryId(i))
            .collect();
        if let Some(ids) = self.pending.get(digest) {
            out.extend(
                ids.iter()
                    .filter(|&&i| !self.deleted.get(i as usize))
                    .map(|&i| EntryId(i)),
            );
        }
        out
    }

    pub fn len(&self) -> usize {
        self.ids() - self.removed
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn digest(&self, id: EntryId) -> Option<[u8; N]> {
        let i = id.0 as usize;
        match self.digests.get(i) {
            Some(d) => Some(*d),
            None => self.tail.get(i - self.digests.len()).copied(),
        }
    }

    /// Whether entry `id` was removed (false for ids never inserted).
    pub fn is_removed(&self, id: EntryId) -> bool {
        self.deleted.get(id.0 as usize)
    }

    pub fn entry_ref(&self, id: EntryId) -> Option<EntryRef> {
        self.refs.get(id)
    }

    pub fn write_to<W: Write>(&self, w: W) -> Result<W, FormatError> {
        let fields = [
            self.ids() as u64,
            u64::from(self.main_len),
            self.refs.runs.len() as u64,
            self.removed as u64,
            self.order.len() as u64,
        ];
        let mut f = FileWriter::new(w, Self::kind()?, &fields)?;
        f.section_parts(&[&self.digests[..], &self.tail[..]])?;
        f.section(&runs_to_words(&self.refs.runs))?;
        let mut del = self.deleted.words.clone();
        del.resize(Bitset::words_for(self.ids()), 0);
        f.section(&del)?;
        f.section(&self.order)?;
        f.finish()
    }

    /// Reads an index written by [`write_to`](Self::write_to) (into one aligned buffer it then
    /// uses in place), refusing a truncated, corrupt or inconsistent file.
    pub fn read_from<R: Read>(r: R) -> Result<Self, FormatError> {
        let (src, len) = read_shared(r)?;
        Self::from_shared(&src, 0, len)
    }

    /// Reads the index file at bytes `start..end` of `src` in place (see
    /// [`PdqIndex::from_shared`](crate::PdqIndex::from_shared)).
    pub fn from_shared(src: &Shared, start: usize, end: usize) -> Result<Self, FormatError> {
        let mut f = FileView::new(src, start, end, Self::kind()?)?;
        if f.fields.len() != 5 {
            return Err(FormatError::Invalid("wrong header field count".into()));
        }
        let fl = f.fields.clone();
        let n = checked_len(fl[0], u64::from(u32::MAX), "entry count")?;
        let main_len = checked_len(fl[1], n as u64, "indexed entry count")?;
        let runs = checked_len(fl[2], n as u64, "entry reference runs")?;
        let removed = checked_len(fl[3], n as u64, "removed count")?;
        let order_len = checked_len(fl[4], main_len as u64, "lookup array length")?;
        let all: Buf<[u8; N]> = f.section(n, 0, "digests")?;
        let run_words: Vec<u64> = f.section_vec(runs * 2, "entry references")?;
        let del_words: Vec<u64> = f.section_vec(Bitset::words_for(n), "removed entries")?;
        let order: Buf<u32> = f.section(order_len, 0, "lookup array")?;
        let digests = all.slice(0..main_len);
        let tail = all[main_len..].to_vec();
        f.finish()?;
        let runs = words_to_runs(&run_words, n)?;
        let deleted = Bitset { words: del_words };
        if deleted.count() != removed {
            return Err(FormatError::Invalid("removed count disagrees".into()));
        }
        if order.iter().any(|&i| i as usize >= main_len)
            || order
                .windows(2)
                .any(|w| digests[w[0] as usize] > digests[w[1] as usize])
        {
            return Err(FormatError::Invalid("lookup array is not sorted".into()));
        }
        let mut pending: HashMap<[u8; N], Vec<u32>> = HashMap::new();
        for (i, d) in tail.iter().enumerate() {
            pending.entry(*d).or_default().push((main_len + i) as u32);
        }
        Ok(DigestIndex {
            digests,
            tail,
            refs: EntryRefs {
                runs,
                len: n as u32,
            },
            deleted,
            removed,
            order,
            main_len: main_len as u32,
            pending,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(c: u64) -> EntryRef {
        EntryRef {
            bank: 2,
            content: c,
        }
    }

    #[test]
    fn lookup_insert_remove_save_load() {
        let mut idx = Md5Index::build((0..100u8).map(|i| ([i % 10; 16], r(u64::from(i)))));
        assert_eq!(idx.get(&[3; 16]).len(), 10);
        assert_eq!(idx.get(&[42; 16]), vec![]);
        let new = idx.insert([42; 16], r(500));
        assert_eq!(idx.get(&[42; 16]), vec![new]);
        assert!(idx.remove(EntryId(3)));
        assert!(!idx.remove(EntryId(3)));
        assert_eq!(idx.get(&[3; 16]).len(), 9);
        assert_eq!(idx.entry_ref(new), Some(r(500)));
        let bytes = idx.write_to(Vec::new()).unwrap();
        let back = Md5Index::read_from(&bytes[..]).unwrap();
        for d in 0..50u8 {
            assert_eq!(back.get(&[d; 16]), idx.get(&[d; 16]));
        }
        assert_eq!(back.len(), 100);
        idx.compact();
        assert_eq!(idx.get(&[42; 16]), vec![new]);
        assert_eq!(idx.get(&[3; 16]).len(), 9);
        // A SHA-256 reader refuses an MD5 file.
        let e = Sha256Index::read_from(&bytes[..]).unwrap_err();
        assert!(
            e.to_string()
                .contains("expected a SHA-256 index file, found a MD5"),
            "{e}"
        );
    }
}
