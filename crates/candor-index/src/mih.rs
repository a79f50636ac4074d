//! Multi-index hashing tables (Norouzi, Punjani and Fleet), in two layouts.
//!
//! The 256 bits are cut into [`SUBSTRINGS`] disjoint 32-bit substrings. Pigeonhole: if
//! `d(q, x) <= r` and substring `i` has threshold `t_i` with `sum(t_i + 1) >= r + 1`, some
//! substring `i` has `d_i(q, x) <= t_i`. Every table is a counting-sorted array of the live
//! entries keyed by `h` directory bits (the directory holds `2^h + 1` offsets); each entry
//! carries filter bits. A query visits the directory buckets near its own key and keeps the
//! entries whose filter bits are close enough; filters compare subsets of the bits the
//! pigeonhole needs, so they never drop a needed entry. Every kept entry is verified with the
//! full 256-bit distance.
//!
//! * [`Layout::Compact`]: one table per substring, keyed by its top `h` bits, filtered by the
//!   next 8 bits (one byte per entry). A query visits every bucket within `t_i` of its key
//!   (697 buckets per table at `t = 3`, `h = 16`), keeping entries whose filter byte is within
//!   `t_i - d_bucket`. About 26 bytes per entry over all tables.
//! * [`Layout::Split`]: two tables per substring, one keyed by each 16-bit half and filtered by
//!   the whole other half (two bytes per entry). `d_hi + d_lo <= t` implies `min(d_hi, d_lo) <=
//!   t / 2`, so each table visits only the buckets within `t / 2` of its key (17 at `t = 3`),
//!   keeping entries whose other half is within `t - d_bucket`. About 68 bytes per entry: many
//!   fewer probes and candidates for 2.6 times the table memory.
//!
//! Entry ids are stored Elias-Fano style: inside a bucket entries are in id order; each carries
//! the low 16 bits of its id (`idlo`), and the high bits are unary-coded in a bit vector (`bits`)
//! where bucket `b` owns bits `dir[b] + b * blocks .. dir[b+1] + (b+1) * blocks` and its `k`-th
//! entry is the `k`-th one bit, at offset `k + (id >> 16)`. Per entry and table: 1 + 2 bytes and
//! about 2 bits.
use crate::buf::Buf;
use crate::hash::{Bitset, Hash256};
use crate::simd::{self, SimdLevel, FILTER_PAD};

/// Number of 32-bit substrings.
pub(crate) const SUBSTRINGS: usize = 8;
/// Most tables a layout has.
pub(crate) const MAX_TABLES: usize = 16;

/// How the multi-index tables are laid out (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Eight tables with one-byte filters: least memory.
    Compact,
    /// Sixteen half-substring tables with two-byte filters: fastest.
    Split,
}

impl Layout {
    pub(crate) fn tables(self) -> usize {
        match self {
            Layout::Compact => SUBSTRINGS,
            Layout::Split => 2 * SUBSTRINGS,
        }
    }

    /// Bits of filter per entry.
    pub(crate) fn filter_bits(self) -> u32 {
        match self {
            Layout::Compact => 8,
            Layout::Split => 16,
        }
    }

    pub(crate) fn max_dir_bits(self) -> u32 {
        match self {
            Layout::Compact => MAX_DIR_BITS,
            Layout::Split => 16,
        }
    }

    /// The substring table `j` covers, and the largest key distance it probes for threshold `t`.
    #[inline(always)]
    pub(crate) fn probe(self, j: usize, t: u32) -> (usize, u32) {
        match self {
            Layout::Compact => (j, t),
            Layout::Split => (j / 2, t / 2),
        }
    }

    pub(crate) fn code(self) -> u64 {
        match self {
            Layout::Compact => 1,
            Layout::Split => 2,
        }
    }

    pub(crate) fn from_code(c: u64) -> Option<Layout> {
        match c {
            1 => Some(Layout::Compact),
            2 => Some(Layout::Split),
            _ => None,
        }
    }

    /// The default for `n` entries: `Split` while its tables stay small (under 4M entries,
    /// about 280 MB), `Compact` above, where memory is the constraint.
    pub(crate) fn default_for(n: usize) -> Layout {
        if n < (1 << 22) {
            Layout::Split
        } else {
            Layout::Compact
        }
    }
}
/// Low id bits stored per entry; the rest is unary-coded.
pub(crate) const ID_LOW_BITS: u32 = 16;
/// Widest directory (2^16 buckets per table).
pub(crate) const MAX_DIR_BITS: u32 = 18;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Table {
    pub(crate) dir: Buf<u32>,
    /// Compact filters (empty in the split layout).
    pub(crate) filt: Buf<u8>,
    /// Split filters (empty in the compact layout).
    pub(crate) filt16: Buf<u16>,
    pub(crate) idlo: Buf<u16>,
    pub(crate) bits: Buf<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mih {
    pub(crate) layout: Layout,
    /// Directory bits `h` (1..=18 compact, 1..=16 split).
    pub(crate) dir_bits: u32,
    /// Unary id blocks per bucket: `ceil((id_limit - base) / 2^16)`, at least 1.
    pub(crate) blocks: u64,
    /// Entries per table (the live entries with `base <= id < id_limit` at build time).
    pub(crate) len: u32,
    /// Every id in the tables is at least this (0 for an index built whole; a later segment's
    /// first id otherwise). The tables store `id - base`.
    pub(crate) base: u32,
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
pub(crate) fn default_dir_bits(n: usize, layout: Layout) -> u32 {
    let lg = usize::BITS - n.max(1).leading_zeros(); // ceil-ish log2
    lg.saturating_sub(3).clamp(1, 17.min(layout.max_dir_bits()))
}

/// Directory key and filter of table `j` for a hash.
#[inline(always)]
fn keys(layout: Layout, j: usize, h: u32, x: &Hash256) -> (usize, u16) {
    match layout {
        Layout::Compact => {
            let sub = x.substring(j);
            (
                (sub >> (32 - h)) as usize,
                ((sub >> (24 - h)) & 0xff) as u16,
            )
        }
        Layout::Split => {
            let sub = x.substring(j / 2);
            let (key, other) = if j.is_multiple_of(2) {
                (sub >> 16, sub & 0xffff)
            } else {
                (sub & 0xffff, sub >> 16)
            };
            ((key >> (16 - h)) as usize, other as u16)
        }
    }
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
    let m = SUBSTRINGS as u64;
    (need / m + u64::from((i as u64) < need % m)) as u32
}

impl Mih {
    /// Builds the tables over a segment: `hashes` are the hashes of ids `base..` (`base` 0 for
    /// the whole index), skipping ids set in `deleted`.
    pub(crate) fn build(
        hashes: &[Hash256],
        deleted: &Bitset,
        base: u32,
        layout: Option<Layout>,
        dir_bits: Option<u32>,
    ) -> Option<Mih> {
        let id_limit =
            u32::try_from(base as usize + hashes.len()).expect("at most u32::MAX entries");
        let live: Vec<u32> = (base..id_limit)
            .filter(|&i| !deleted.get(i as usize))
            .collect();
        if live.is_empty() {
            return None;
        }
        let n = live.len();
        let layout = layout.unwrap_or_else(|| Layout::default_for(n));
        let h = dir_bits
            .unwrap_or_else(|| default_dir_bits(n, layout))
            .clamp(1, layout.max_dir_bits());
        let nb = 1usize << h;
        let blocks = u64::from(id_limit - base).div_ceil(1 << ID_LOW_BITS).max(1);
        let mut tables = Vec::with_capacity(layout.tables());
        let mut keyed = vec![(0u32, 0u16); n];
        for j in 0..layout.tables() {
            for (k, &id) in keyed.iter_mut().zip(&live) {
                let (b, f) = keys(layout, j, h, &hashes[(id - base) as usize]);
                *k = (b as u32, f);
            }
            let mut dir = vec![0u32; nb + 1];
            for &(b, _) in &keyed {
                dir[b as usize + 1] += 1;
            }
            for b in 0..nb {
                dir[b + 1] += dir[b];
            }
            let mut cursor = dir.clone();
            let (mut filt, mut filt16) = match layout {
                Layout::Compact => (vec![0u8; n + FILTER_PAD], Vec::new()),
                Layout::Split => (Vec::new(), vec![0u16; n + FILTER_PAD / 2]),
            };
            let mut idlo = vec![0u16; n];
            let nbits = n as u64 + nb as u64 * blocks;
            let mut bits = vec![0u64; nbits.div_ceil(64) as usize];
            for (&(b, f), &id) in keyed.iter().zip(&live) {
                let id = id - base;
                let b = b as usize;
                let p = cursor[b] as usize;
                cursor[b] += 1;
                match layout {
                    Layout::Compact => filt[p] = f as u8,
                    Layout::Split => filt16[p] = f,
                }
                idlo[p] = id as u16;
                let bit = p as u64 + b as u64 * blocks + u64::from(id >> ID_LOW_BITS);
                bits[(bit / 64) as usize] |= 1 << (bit % 64);
            }
            tables.push(Table {
                dir: dir.into(),
                filt: filt.into(),
                filt16: filt16.into(),
                idlo: idlo.into(),
                bits: bits.into(),
            });
        }
        Some(Mih::assemble(
            layout, h, blocks, n as u32, base, id_limit, tables,
        ))
    }

    pub(crate) fn assemble(
        layout: Layout,
        dir_bits: u32,
        blocks: u64,
        len: u32,
        base: u32,
        id_limit: u32,
        tables: Vec<Table>,
    ) -> Mih {
        let (masks, weight_start) = masks_by_weight(dir_bits);
        Mih {
            layout,
            dir_bits,
            blocks,
            len,
            base,
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
        if !(1..=self.layout.max_dir_bits()).contains(&h) {
            return Err(format!("directory bits {h} out of range"));
        }
        if self.base > self.id_limit || self.len > self.id_limit - self.base {
            return Err(format!(
                "segment {}..{} cannot hold {} entries",
                self.base, self.id_limit, self.len
            ));
        }
        let need_blocks = u64::from(self.id_limit - self.base)
            .div_ceil(1 << ID_LOW_BITS)
            .max(1);
        if self.blocks != need_blocks {
            return Err(format!(
                "id blocks {} (expected {need_blocks})",
                self.blocks
            ));
        }
        let want = self.layout.tables();
        if self.tables.len() != want {
            return Err(format!("{} tables (expected {want})", self.tables.len()));
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
            let filters_ok = match self.layout {
                Layout::Compact => t.filt.len() == n + FILTER_PAD && t.filt16.is_empty(),
                Layout::Split => t.filt16.len() == n + FILTER_PAD / 2 && t.filt.is_empty(),
            };
            if !filters_ok || t.idlo.len() != n || t.bits.len() as u64 != nbits.div_ceil(64) {
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
        let fb = self.layout.filter_bits();
        let n = f64::from(self.len);
        let per_bucket = n / f64::from(1u32 << h);
        let mut cost = 0.0;
        for j in 0..self.layout.tables() {
            let (sub, _) = self.layout.probe(j, 0);
            let t1 = table_budget(radius, sub);
            if t1 == 0 {
                continue;
            }
            let t = t1 - 1;
            let (_, wmax) = self.layout.probe(j, t);
            let mut visits = 0.0;
            let mut pass = 0.0;
            let mut c = 1.0;
            for w in 0..=wmax.min(h) {
                if w > 0 {
                    c = c * f64::from(h - w + 1) / f64::from(w);
                }
                visits += c;
                pass += c * binomial_sum(fb, t - w) / 2f64.powi(fb as i32);
            }
            let candidates = (pass * per_bucket).min(n);
            cost +=
                visits * 12.0 + visits * per_bucket * 0.08 * f64::from(fb / 8) + candidates * 10.0;
        }
        cost
    }

    /// Appends `(id, distance)` for every table entry within `radius` of `q` that is not in
    /// `deleted` (an entry may be appended once per table that finds it). `hashes` are the
    /// segment's: ids `base..id_limit`.
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
            .map(|t| {
                t.dir.owned_bytes()
                    + t.filt.owned_bytes()
                    + t.filt16.owned_bytes()
                    + t.idlo.owned_bytes()
                    + t.bits.owned_bytes()
            })
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
        let layout = mih.layout;
        let fb = layout.filter_bits();
        let mut qf = [0u16; MAX_TABLES];
        // The buckets within each table's threshold.
        for (i, qf_i) in qf.iter_mut().enumerate().take(layout.tables()) {
            let (sub, _) = layout.probe(i, 0);
            let t1 = table_budget(radius, sub);
            if t1 == 0 {
                continue;
            }
            let t = t1 - 1;
            let (_, wmax) = layout.probe(i, t);
            let (qb, f) = keys(layout, i, h, q);
            *qf_i = f;
            for w in 0..=wmax.min(h) {
                let k = (t - w).min(fb) as u8;
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
        for v in visits.iter().take(AHEAD) {
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
                let (f, len) = match layout {
                    Layout::Compact => (table.filt.as_ptr().wrapping_add(s), e - s),
                    Layout::Split => (
                        table.filt16.as_ptr().wrapping_add(s) as *const u8,
                        2 * (e - s),
                    ),
                };
                let mut off = 0;
                while off < len {
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
            let qf = qf[v.table as usize];
            if u32::from(v.k) >= fb {
                (s as usize..e as usize).for_each(&mut keep);
            } else if layout == Layout::Split {
                simd::filter16_scan::<L>(
                    &table.filt16,
                    s as usize,
                    e as usize,
                    qf,
                    u32::from(v.k),
                    &mut keep,
                );
            } else {
                let qf = qf as u8;
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
        let base = mih.base;
        let mut verify = |id: u32| {
            let d = hashes[id as usize].distance(q);
            if d <= radius && !deleted.get((id + base) as usize) {
                out.push((id + base, d));
            }
        };
        let mut verified = 0;
        // Candidates of one bucket come in rank order: each select continues from the one bit
        // of the previous candidate instead of walking the bucket's segment from its start
        // (large buckets on clustered data made that quadratic).
        let mut last: (u64, u32, u64) = (u64::MAX, 0, 0);
        for j in 0..nc {
            if let Some(c) = candidates.get(j + AHEAD) {
                prefetch_ids(c);
            }
            let c = candidates[j];
            let table = &mih.tables[c.table as usize];
            let bucket = c.seg | (u64::from(c.table) << 58);
            let found = if last.0 == bucket && c.rank > last.1 {
                select::<L>(&table.bits, c.seg + last.2 + 1, c.rank - last.1 - 1)
                    .map(|o| o + last.2 + 1)
            } else {
                select::<L>(&table.bits, c.seg, c.rank)
            };
            if let Some(off) = found {
                last = (bucket, c.rank, off);
                // The id within the segment (its hashes are the segment's).
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
            let total: u32 = (0..SUBSTRINGS).map(|i| table_budget(r, i)).sum();
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
        assert_eq!(default_dir_bits(1, Layout::Compact), 1);
        assert_eq!(default_dir_bits(1000, Layout::Split), 7);
        assert_eq!(default_dir_bits(1_000_000, Layout::Compact), 17);
        assert_eq!(default_dir_bits(1_000_000, Layout::Split), 16);
        assert_eq!(default_dir_bits(10_000_000, Layout::Compact), 17);
    }
}
