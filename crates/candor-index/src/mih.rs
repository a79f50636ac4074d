//! Multi-index hashing tables (Norouzi, Punjani and Fleet), laid out for memory.
//!
//! The 256 bits are cut into [`TABLES`] disjoint 32-bit substrings. Pigeonhole: if
//! `d(q, x) <= r` and table `i` has threshold `t_i` with `sum(t_i + 1) >= r + 1`, some substring
//! `i` has `d_i(q, x) <= t_i`. Table `i` is a counting-sorted array of the live entries keyed by
//! the top `h` bits of substring `i` (the directory, `2^h + 1` offsets); each entry carries the
//! next [`FILTER_BITS`] bits of the substring (the filter byte). A query visits every directory
//! bucket within `t_i` of its own key and keeps the entries whose filter byte is within
//! `t_i - d_bucket`; the filter compares a subset of the substring's bits, so it never drops an
//! entry the pigeonhole needs. Every kept entry is verified with the full 256-bit distance.
//!
//! Entry ids are stored Elias-Fano style: inside a bucket entries are in id order; each carries
//! the low 16 bits of its id (`idlo`), and the high bits are unary-coded in a bit vector (`bits`)
//! where bucket `b` owns bits `dir[b] + b * blocks .. dir[b+1] + (b+1) * blocks` and its `k`-th
//! entry is the `k`-th one bit, at offset `k + (id >> 16)`. Per entry and table: 1 + 2 bytes and
//! about 2 bits.
use crate::hash::{Bitset, Hash256};
use crate::simd::{self, SimdLevel, FILTER_PAD};

/// Number of substrings (tables).
pub(crate) const TABLES: usize = 8;
/// Bits of the substring each table entry carries after the directory bits.
pub(crate) const FILTER_BITS: u32 = 8;
/// Low id bits stored per entry; the rest is unary-coded.
pub(crate) const ID_LOW_BITS: u32 = 16;
/// Widest directory (2^16 buckets per table).
pub(crate) const MAX_DIR_BITS: u32 = 18;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Table {
    pub(crate) dir: Vec<u32>,
    pub(crate) filt: Vec<u8>,
    pub(crate) idlo: Vec<u16>,
    pub(crate) bits: Vec<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mih {
    /// Directory bits `h` (1..=16).
    pub(crate) dir_bits: u32,
    /// Unary id blocks per bucket: `ceil(id_limit / 2^16)`, at least 1.
    pub(crate) blocks: u64,
    /// Entries per table (the live entries with id < `id_limit` at build time).
    pub(crate) len: u32,
    /// Every id in the tables is below this (the index's entry count at build time).
    pub(crate) id_limit: u32,
    pub(crate) tables: Vec<Table>,
    /// All `h`-bit masks ordered by weight; weight `w` is `masks[weight_start[w]..weight_start[w+1]]`.
    masks: Vec<u32>,
    weight_start: Vec<usize>,
}

/// The directory width for `n` entries: about 8 entries per bucket for small tables, capped at
/// 2^17 buckets (about 76 entries per bucket at 10M). Wider directories cut candidates (the key
/// compared before verification is `h + 8` bits) but add probes and, through the unary id bits,
/// about `2^h * n / 2^16` bits per table; 17 keeps 10M entries under 600 MB.
pub(crate) fn default_dir_bits(n: usize) -> u32 {
    let lg = usize::BITS - n.max(1).leading_zeros(); // ceil-ish log2
    lg.saturating_sub(3).clamp(1, 17)
}

#[inline(always)]
fn keys(sub: u32, h: u32) -> (usize, u8) {
    (
        (sub >> (32 - h)) as usize,
        (sub >> (32 - h - FILTER_BITS)) as u8,
    )
}

fn masks_by_weight(h: u32) -> (Vec<u32>, Vec<usize>) {
    let mut masks: Vec<u32> = (0..(1u32 << h)).collect();
    masks.sort_by_key(|m| (m.count_ones(), *m));
    let mut start = vec![0usize; h as usize + 2];
    for w in 0..=h as usize {
        start[w + 1] = start[w]
            + masks
                .iter()
                .filter(|m| m.count_ones() as usize == w)
                .count();
    }
    (masks, start)
}

fn binomial_sum(n: u32, t: u32) -> f64 {
    let mut c = 1f64;
    let mut s = 1f64;
    for k in 1..=t.min(n) {
        c = c * f64::from(n - k + 1) / f64::from(k);
        s += c;
    }
    s
}

/// Per-table threshold `t_i + 1` for radius `r`: the `r + 1` budget spread evenly, remainders
/// to the first tables; 0 means the table is not probed.
#[inline(always)]
pub(crate) fn table_budget(radius: u32, i: usize) -> u32 {
    let need = radius as u64 + 1;
    let m = TABLES as u64;
    (need / m + u64::from((i as u64) < need % m)) as u32
}

impl Mih {
    /// Builds the tables over `hashes[..]`, skipping ids set in `deleted`.
    pub(crate) fn build(
        hashes: &[Hash256],
        deleted: &Bitset,
        dir_bits: Option<u32>,
    ) -> Option<Mih> {
        let id_limit = u32::try_from(hashes.len()).expect("at most u32::MAX entries");
        let live: Vec<u32> = (0..id_limit)
            .filter(|&i| !deleted.get(i as usize))
            .collect();
        if live.is_empty() {
            return None;
        }
        let n = live.len();
        let h = dir_bits
            .unwrap_or_else(|| default_dir_bits(n))
            .clamp(1, MAX_DIR_BITS);
        let nb = 1usize << h;
        let blocks = u64::from(id_limit).div_ceil(1 << ID_LOW_BITS).max(1);
        let mut tables = Vec::with_capacity(TABLES);
        let mut subs = vec![0u32; n];
        for i in 0..TABLES {
            for (s, &id) in subs.iter_mut().zip(&live) {
                *s = hashes[id as usize].substring(i);
            }
            let mut dir = vec![0u32; nb + 1];
            for &s in &subs {
                dir[keys(s, h).0 + 1] += 1;
            }
            for b in 0..nb {
                dir[b + 1] += dir[b];
            }
            let mut cursor = dir.clone();
            let mut filt = vec![0u8; n + FILTER_PAD];
            let mut idlo = vec![0u16; n];
            let nbits = n as u64 + nb as u64 * blocks;
            let mut bits = vec![0u64; nbits.div_ceil(64) as usize];
            for (&s, &id) in subs.iter().zip(&live) {
                let (b, f) = keys(s, h);
                let p = cursor[b] as usize;
                cursor[b] += 1;
                filt[p] = f;
                idlo[p] = id as u16;
                let bit = p as u64 + b as u64 * blocks + u64::from(id >> ID_LOW_BITS);
                bits[(bit / 64) as usize] |= 1 << (bit % 64);
            }
            tables.push(Table {
                dir,
                filt,
                idlo,
                bits,
            });
        }
        Some(Mih::assemble(h, blocks, n as u32, id_limit, tables))
    }

    pub(crate) fn assemble(
        dir_bits: u32,
        blocks: u64,
        len: u32,
        id_limit: u32,
        tables: Vec<Table>,
    ) -> Mih {
        let (masks, weight_start) = masks_by_weight(dir_bits);
        Mih {
            dir_bits,
            blocks,
            len,
            id_limit,
            tables,
            masks,
            weight_start,
        }
    }

    /// Checks the structural invariants of tables read from a file, so that queries can rely on
    /// them: directory shape and monotonicity, array lengths, and one unary one bit per entry in
    /// every bucket segment.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let h = self.dir_bits;
        if !(1..=MAX_DIR_BITS).contains(&h) {
            return Err(format!("directory bits {h} out of range"));
        }
        let need_blocks = u64::from(self.id_limit).div_ceil(1 << ID_LOW_BITS).max(1);
        if self.blocks != need_blocks {
            return Err(format!(
                "id blocks {} (expected {need_blocks})",
                self.blocks
            ));
        }
        if self.tables.len() != TABLES {
            return Err(format!("{} tables (expected {TABLES})", self.tables.len()));
        }
        let nb = 1usize << h;
        let n = self.len as usize;
        for (i, t) in self.tables.iter().enumerate() {
            let bad = |what: &str| Err(format!("table {i}: {what}"));
            if t.dir.len() != nb + 1 || t.dir[0] != 0 || t.dir[nb] as usize != n {
                return bad("directory has the wrong shape");
            }
            if t.dir.windows(2).any(|w| w[0] > w[1]) {
                return bad("directory is not monotone");
            }
            let nbits = n as u64 + nb as u64 * self.blocks;
            if t.filt.len() != n + FILTER_PAD
                || t.idlo.len() != n
                || t.bits.len() as u64 != nbits.div_ceil(64)
            {
                return bad("array lengths disagree");
            }
            for b in 0..nb {
                let s = u64::from(t.dir[b]) + b as u64 * self.blocks;
                let e = u64::from(t.dir[b + 1]) + (b as u64 + 1) * self.blocks;
                if count_ones(&t.bits, s, e) != u64::from(t.dir[b + 1] - t.dir[b]) {
                    return bad("id bits disagree with the directory");
                }
            }
            if count_ones(&t.bits, 0, t.bits.len() as u64 * 64) != n as u64 {
                return bad("stray id bits");
            }
        }
        Ok(())
    }

    /// Estimated cost in nanoseconds of a radius-`r` query, for random data (the model behind
    /// [`crate::Strategy::Auto`]; constants fitted on an AMD EPYC with AVX-512).
    pub(crate) fn cost(&self, radius: u32) -> f64 {
        let h = self.dir_bits;
        let n = f64::from(self.len);
        let per_bucket = n / f64::from(1u32 << h);
        let mut cost = 0.0;
        for i in 0..TABLES {
            let t1 = table_budget(radius, i);
            if t1 == 0 {
                continue;
            }
            let t = t1 - 1;
            let visits = binomial_sum(h, t);
            let candidates =
                n * binomial_sum(h + FILTER_BITS, t) / 2f64.powi((h + FILTER_BITS) as i32);
            cost += visits * 12.0 + visits * per_bucket * 0.08 + candidates.min(n) * 10.0;
        }
        cost
    }

    /// Appends `(id, distance)` for every table entry within `radius` of `q` that is not in
    /// `deleted` (an entry may be appended once per table that finds it).
    pub(crate) fn search(
        &self,
        level: SimdLevel,
        hashes: &[Hash256],
        deleted: &Bitset,
        q: &Hash256,
        radius: u32,
        out: &mut Vec<(u32, u32)>,
    ) {
        SCRATCH.with(|cell| {
            let mut guard = cell.borrow_mut();
            let scratch = &mut *guard;
            match level {
                #[cfg(target_arch = "x86_64")]
                SimdLevel::Avx512 if level.supported() => unsafe {
                    search_avx512(self, hashes, deleted, q, radius, out, scratch)
                },
                #[cfg(target_arch = "x86_64")]
                SimdLevel::Avx2 | SimdLevel::Avx512 if SimdLevel::Avx2.supported() => unsafe {
                    search_avx2(self, hashes, deleted, q, radius, out, scratch)
                },
                // SAFETY: level 0 runs the portable kernels only.
                _ => unsafe { search_body::<0>(self, hashes, deleted, q, radius, out, scratch) },
            }
        })
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.tables
            .iter()
            .map(|t| t.dir.len() * 4 + t.filt.len() + t.idlo.len() * 2 + t.bits.len() * 8)
            .sum::<usize>()
            + self.masks.len() * 4
    }
}

/// Ones in `bits[s..e)` (bit positions).
fn count_ones(bits: &[u64], s: u64, e: u64) -> u64 {
    let mut c = 0u64;
    let mut p = s;
    while p < e {
        let wi = (p / 64) as usize;
        let lo = p % 64;
        let hi = (e - (p - lo)).min(64);
        let Some(&w) = bits.get(wi) else { break };
        let mask = if hi == 64 { !0u64 } else { (1u64 << hi) - 1 } & (!0u64 << lo);
        c += u64::from((w & mask).count_ones());
        p = p - lo + 64;
    }
    c
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bitalg,avx512vpopcntdq,avx2,popcnt,bmi1,bmi2")]
unsafe fn search_avx512(
    mih: &Mih,
    hashes: &[Hash256],
    deleted: &Bitset,
    q: &Hash256,
    radius: u32,
    out: &mut Vec<(u32, u32)>,
    scratch: &mut Scratch,
) {
    search_body::<2>(mih, hashes, deleted, q, radius, out, scratch)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,bmi1,bmi2")]
unsafe fn search_avx2(
    mih: &Mih,
    hashes: &[Hash256],
    deleted: &Bitset,
    q: &Hash256,
    radius: u32,
    out: &mut Vec<(u32, u32)>,
    scratch: &mut Scratch,
) {
    search_body::<1>(mih, hashes, deleted, q, radius, out, scratch)
}

/// Position (from `start`) of the `k`-th one bit at or after bit `start`.
#[inline(always)]
unsafe fn select<const L: u8>(bits: &[u64], start: u64, mut k: u32) -> Option<u64> {
    let mut wi = (start / 64) as usize;
    let mut w = *bits.get(wi)? & (!0u64 << (start % 64));
    loop {
        let c = w.count_ones();
        if k < c {
            #[cfg(target_arch = "x86_64")]
            if L > 0 {
                let bit = std::arch::x86_64::_pdep_u64(1u64 << k, w).trailing_zeros();
                return Some(wi as u64 * 64 + u64::from(bit) - start);
            }
            for _ in 0..k {
                w &= w - 1;
            }
            return Some(wi as u64 * 64 + u64::from(w.trailing_zeros()) - start);
        }
        k -= c;
        wi += 1;
        w = *bits.get(wi)?;
    }
}

#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// A directory bucket to scan: entries `s..e` of a table, filter threshold `k`.
#[derive(Clone, Copy)]
struct Visit {
    table: u8,
    k: u8,
    b: u32,
}

/// A table entry that passed its filter: position `p`, rank in its bucket, unary segment start.
#[derive(Clone, Copy)]
struct Candidate {
    table: u8,
    rank: u32,
    p: u32,
    seg: u64,
}

#[derive(Default)]
pub(crate) struct Scratch {
    visits: Vec<Visit>,
    candidates: Vec<Candidate>,
    ids: Vec<u32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// How many steps ahead each pipeline stage prefetches.
const AHEAD: usize = 16;

/// The query is a software pipeline over independent memory accesses: directory entries are
/// prefetched `2 * AHEAD` buckets ahead, filter bytes `AHEAD` buckets ahead of their scan, id
/// parts `AHEAD` candidates ahead of decoding, and hashes `AHEAD` ids ahead of verification.
///
/// # Safety
/// `L` must be a level the CPU supports (see [`simd::filter_scan`]); levels 1 and 2 also need
/// BMI2 (the callers enable it).
#[inline(always)]
unsafe fn search_body<const L: u8>(
    mih: &Mih,
    hashes: &[Hash256],
    deleted: &Bitset,
    q: &Hash256,
    radius: u32,
    out: &mut Vec<(u32, u32)>,
    scratch: &mut Scratch,
) {
    {
        let Scratch {
            visits,
            candidates,
            ids,
        } = scratch;
        visits.clear();
        candidates.clear();
        ids.clear();
        let h = mih.dir_bits;
        let mut qf = [0u8; TABLES];
        // The buckets within each table's threshold.
        for i in 0..TABLES {
            let t1 = table_budget(radius, i);
            if t1 == 0 {
                continue;
            }
            let t = t1 - 1;
            let (qb, f) = keys(q.substring(i), h);
            qf[i] = f;
            for w in 0..=t.min(h) {
                let k = (t - w).min(FILTER_BITS) as u8;
                let range = mih.weight_start[w as usize]..mih.weight_start[w as usize + 1];
                visits.extend(mih.masks[range].iter().map(|&mask| Visit {
                    table: i as u8,
                    k,
                    b: (qb ^ mask as usize) as u32,
                }));
            }
        }
        // Filter scans.
        let nv = visits.len();
        for i in 0..nv.min(AHEAD) {
            let v = visits[i];
            prefetch(
                mih.tables[v.table as usize]
                    .dir
                    .as_ptr()
                    .wrapping_add(v.b as usize),
            );
        }
        for i in 0..nv {
            if let Some(v) = visits.get(i + 2 * AHEAD) {
                prefetch(
                    mih.tables[v.table as usize]
                        .dir
                        .as_ptr()
                        .wrapping_add(v.b as usize),
                );
            }
            if let Some(v) = visits.get(i + AHEAD) {
                let table = &mih.tables[v.table as usize];
                let s = table.dir[v.b as usize] as usize;
                let e = table.dir[v.b as usize + 1] as usize;
                // The scan loads whole 64-byte vectors from s: prefetch every line they touch.
                let f = table.filt.as_ptr().wrapping_add(s);
                let mut off = 0;
                while off < e - s {
                    prefetch(f.wrapping_add(off));
                    off += 64;
                }
                prefetch(f.wrapping_add(off.max(64) - 1));
            }
            let v = visits[i];
            let table = &mih.tables[v.table as usize];
            let s = table.dir[v.b as usize];
            let e = table.dir[v.b as usize + 1];
            if s == e {
                continue;
            }
            let seg = u64::from(s) + u64::from(v.b) * mih.blocks;
            let mut keep = |p: usize| {
                candidates.push(Candidate {
                    table: v.table,
                    rank: p as u32 - s,
                    p: p as u32,
                    seg,
                });
            };
            if u32::from(v.k) >= FILTER_BITS {
                (s as usize..e as usize).for_each(&mut keep);
            } else {
                let qf = qf[v.table as usize];
                simd::filter_scan::<L>(
                    &table.filt,
                    s as usize,
                    e as usize,
                    qf,
                    u32::from(v.k),
                    &mut keep,
                );
            }
        }
        // Decode ids, then verify each against the full hash.
        let nc = candidates.len();
        let prefetch_ids = |c: &Candidate| {
            let table = &mih.tables[c.table as usize];
            prefetch(table.idlo.as_ptr().wrapping_add(c.p as usize));
            let word = (c.seg + 2 * u64::from(c.rank)) / 64;
            prefetch(table.bits.as_ptr().wrapping_add(word as usize));
        };
        candidates.iter().take(AHEAD).for_each(prefetch_ids);
        let mut verify = |id: u32| {
            let d = hashes[id as usize].distance(q);
            if d <= radius && !deleted.get(id as usize) {
                out.push((id, d));
            }
        };
        let mut verified = 0;
        for j in 0..nc {
            if let Some(c) = candidates.get(j + AHEAD) {
                prefetch_ids(c);
            }
            let c = candidates[j];
            let table = &mih.tables[c.table as usize];
            if let Some(off) = select::<L>(&table.bits, c.seg, c.rank) {
                let id = ((off - u64::from(c.rank)) << ID_LOW_BITS)
                    | u64::from(table.idlo[c.p as usize]);
                if id < hashes.len() as u64 {
                    prefetch(hashes.as_ptr().wrapping_add(id as usize));
                    ids.push(id as u32);
                }
            }
            if ids.len() > verified + AHEAD {
                verify(ids[verified]);
                verified += 1;
            }
        }
        for &id in &ids[verified..] {
            verify(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_satisfy_pigeonhole() {
        for r in 0..=300u32 {
            let total: u32 = (0..TABLES).map(|i| table_budget(r, i)).sum();
            assert_eq!(total, r + 1);
        }
        assert_eq!(table_budget(31, 0), 4);
        assert_eq!(table_budget(0, 0), 1);
        assert_eq!(table_budget(0, 1), 0);
    }

    #[test]
    fn masks_are_grouped_by_weight() {
        let (m, s) = masks_by_weight(5);
        assert_eq!(m.len(), 32);
        assert_eq!(s, vec![0, 1, 6, 16, 26, 31, 32]);
        for w in 0..=5 {
            assert!(m[s[w]..s[w + 1]]
                .iter()
                .all(|x| x.count_ones() as usize == w));
        }
    }

    #[test]
    fn count_ones_ranges() {
        let bits = vec![!0u64, 0b1011, 1 << 63];
        assert_eq!(count_ones(&bits, 0, 64), 64);
        assert_eq!(count_ones(&bits, 3, 66), 63);
        assert_eq!(count_ones(&bits, 64, 192), 4);
        assert_eq!(count_ones(&bits, 65, 191), 2);
        assert_eq!(count_ones(&bits, 10, 10), 0);
    }

    #[test]
    fn select_finds_kth_one() {
        let bits = vec![0b1010_0000u64, !0u64, 1];
        for l in [0u8, 1] {
            if l == 1 && !SimdLevel::Avx2.supported() {
                continue;
            }
            let sel = |s, k| unsafe {
                if l == 0 {
                    select::<0>(&bits, s, k)
                } else {
                    select::<1>(&bits, s, k)
                }
            };
            assert_eq!(sel(0, 0), Some(5));
            assert_eq!(sel(0, 1), Some(7));
            assert_eq!(sel(0, 2), Some(64));
            assert_eq!(sel(6, 0), Some(1));
            assert_eq!(sel(64, 63), Some(63));
            assert_eq!(sel(64, 64), Some(64));
            assert_eq!(sel(64, 65), None);
        }
    }

    #[test]
    fn default_dir_bits_scale() {
        assert_eq!(default_dir_bits(1), 1);
        assert_eq!(default_dir_bits(1000), 7);
        assert_eq!(default_dir_bits(1_000_000), 17);
        assert_eq!(default_dir_bits(10_000_000), 17);
    }
}
