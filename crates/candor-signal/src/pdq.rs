//! PDQ, bit-exact with Meta's reference as HMA / python-threatexchange run it (PyPI `pdqhash`).
//!
//! The pipeline, and the facts it must reproduce to the bit:
//! - luma: `0.299 R + 0.587 G + 0.114 B` summed left to right in f64, then rounded to f32 (the
//!   reference binding computes luma with numpy in double precision);
//! - a Jarosz tent filter: box filters along rows, then columns, twice, window `ceil(dim / 128)`,
//!   with the reference's running-sum order and edge phases (the running sum's rounding is part
//!   of the result, so it is reproduced, never "improved");
//! - point decimation to 64×64 at cell centres; inputs that are already 64×64 are used as they are;
//! - the 16×64 DCT matrix (frequencies 1..=16) giving a 16×16 block, accumulated in f32 in the
//!   reference's order;
//! - the lower median (Torben's algorithm returns the 128th of 256) and strict `>`;
//! - the quality metric with per-term integer truncation;
//! - images under 5 pixels on a side hash to zero with quality 0.
//!
//! The implementation differs in shape only: rows are filtered eight at a time in an interleaved
//! strip buffer so every step is a vector operation, the second pair of passes computes only the
//! 64 columns and 64 rows that decimation keeps (running sums still run over every pixel, so
//! rounding is identical), and the second pass feeds the third strip by strip. `reference_tests`
//! checks it against a direct transcription of the algorithm on random inputs.

use crate::hash::{Orientation, PdqHash, PdqSignal};

/// Images smaller than this on either side hash to zero with quality 0.
pub const MIN_HASHABLE_DIM: usize = 5;

const LANES: usize = 8;

/// The reference's running box filter, phase by phase, over `n` items with window `window`:
/// accumulate `half - 1` items; write with a growing window; add-and-subtract with the full
/// window; subtract with a shrinking window. `add(i)` / `sub(i)` update the running sum with item
/// `i`; `emit(o, count)` writes output `o` with `count` (as f32) items in the window.
///
/// A macro rather than a function taking closures: the bodies must be inlined into the
/// AVX2-compiled caller, and closures are compiled on their own, without its target features.
macro_rules! box_phases {
    ($n:expr, $window:expr,
     add($a:ident) => $add:block,
     sub($s:ident) => $sub:block,
     emit($o:ident, $c:ident) => $emit:block) => {{
        let n: usize = $n;
        let window: usize = $window;
        debug_assert!(window >= 1 && window <= n);
        let half = (window + 2) / 2;
        let mut count = 0usize;
        let (mut li, mut ri, mut oi) = (0usize, 0usize, 0usize);
        for _ in 0..half - 1 {
            {
                let $a = ri;
                $add
            }
            count += 1;
            ri += 1;
        }
        for _ in 0..window - half + 1 {
            {
                let $a = ri;
                $add
            }
            count += 1;
            {
                let $o = oi;
                let $c = count as f32;
                $emit
            }
            ri += 1;
            oi += 1;
        }
        let full = count as f32;
        for _ in 0..n - window {
            {
                let $a = ri;
                $add
            }
            {
                let $s = li;
                $sub
            }
            {
                let $o = oi;
                let $c = full;
                $emit
            }
            li += 1;
            ri += 1;
            oi += 1;
        }
        for _ in 0..half - 1 {
            {
                let $s = li;
                $sub
            }
            count -= 1;
            {
                let $o = oi;
                let $c = count as f32;
                $emit
            }
            li += 1;
            oi += 1;
        }
    }};
}

#[inline(always)]
fn add_lanes(sum: &mut [f32; LANES], v: &[f32; LANES]) {
    for (s, v) in sum.iter_mut().zip(v) {
        *s += v;
    }
}

#[inline(always)]
fn sub_lanes(sum: &mut [f32; LANES], v: &[f32; LANES]) {
    for (s, v) in sum.iter_mut().zip(v) {
        *s -= v;
    }
}

#[inline(always)]
fn add_row(sums: &mut [f32], row: &[f32]) {
    for (s, v) in sums.iter_mut().zip(row) {
        *s += v;
    }
}

#[inline(always)]
fn sub_row(sums: &mut [f32], row: &[f32]) {
    for (s, v) in sums.iter_mut().zip(row) {
        *s -= v;
    }
}

/// `ceil(dim / 128)`, the box window for one axis.
#[inline]
pub fn jarosz_window(dim: usize) -> usize {
    dim.div_ceil(128)
}

/// Luma of one RGB pixel, as the reference binding computes it: `(R·0.299 + G·0.587) + B·0.114`
/// in f64, rounded to f32. The first sum comes from a table over (R, G): the same f64 additions,
/// done once.
#[inline(always)]
fn luma(lut: &LumaLut, r: u8, g: u8, b: u8) -> f32 {
    (lut.rg[(r as usize) << 8 | g as usize] + lut.b[b as usize]) as f32
}

struct LumaLut {
    rg: Vec<f64>,
    b: [f64; 256],
}

static LUMA_LUT: std::sync::LazyLock<LumaLut> = std::sync::LazyLock::new(|| {
    let mut lut = LumaLut {
        rg: vec![0.0; 1 << 16],
        b: [0.0; 256],
    };
    for r in 0..256 {
        for g in 0..256 {
            lut.rg[r << 8 | g] = r as f64 * 0.299 + g as f64 * 0.587;
        }
    }
    for v in 0..256 {
        lut.b[v] = v as f64 * 0.114;
    }
    lut
});

/// The 16×64 DCT matrix, row `i` holding frequency `i + 1`.
static DCT: std::sync::LazyLock<[[f32; 64]; 16]> = std::sync::LazyLock::new(|| {
    let scale = (2.0f64 / 64.0).sqrt() as f32;
    let mut d = [[0f32; 64]; 16];
    for (i, row) in d.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            let angle =
                (std::f64::consts::PI / 2.0 / 64.0) * (i as f64 + 1.0) * (2.0 * j as f64 + 1.0);
            *v = (scale as f64 * angle.cos()) as f32;
        }
    }
    d
});

/// Pixels PDQ can hash.
#[derive(Clone, Copy)]
pub enum Pixels<'a> {
    /// Interleaved 8-bit RGB, `width * height * 3` bytes, row-major.
    Rgb8(&'a [u8]),
    /// 8-bit grey, `width * height` bytes: hashed as the RGB image with R = G = B, which is what
    /// the reference family does after converting grey to RGB.
    Grey8(&'a [u8]),
    /// Luma already in f32, `width * height` values.
    Luma(&'a [f32]),
}

impl Pixels<'_> {
    fn channels(&self) -> usize {
        match self {
            Pixels::Rgb8(_) => 3,
            Pixels::Grey8(_) | Pixels::Luma(_) => 1,
        }
    }

    fn len(&self) -> usize {
        match self {
            Pixels::Rgb8(p) | Pixels::Grey8(p) => p.len(),
            Pixels::Luma(p) => p.len(),
        }
    }

    /// Luma of row `r`, columns `0..width`, into `out`.
    fn luma_row(&self, width: usize, r: usize, out: &mut [f32]) {
        match self {
            Pixels::Rgb8(p) => {
                let lut = &*LUMA_LUT;
                let row = &p[r * width * 3..(r + 1) * width * 3];
                for (o, px) in out.iter_mut().zip(row.chunks_exact(3)) {
                    *o = luma(lut, px[0], px[1], px[2]);
                }
            }
            Pixels::Grey8(p) => {
                let lut = &*LUMA_LUT;
                for (o, &v) in out.iter_mut().zip(&p[r * width..(r + 1) * width]) {
                    *o = luma(lut, v, v, v);
                }
            }
            Pixels::Luma(p) => out[..width].copy_from_slice(&p[r * width..(r + 1) * width]),
        }
    }

    #[inline(always)]
    /// Luma of rows `r0..r0 + n` (n ≤ LANES) interleaved: `out[c * LANES + k]` is row `r0 + k`.
    fn luma_strip<const AVX: bool>(
        &self,
        width: usize,
        r0: usize,
        n: usize,
        out: &mut [[f32; LANES]],
    ) {
        match self {
            Pixels::Rgb8(p) => {
                // Eight columns at a time: eight luma values per row computed side by side in
                // f64 (the same products and sums as the table, so the same bits), then the
                // 8×8 block transposed into the strip.
                let rows: [&[u8]; LANES] = std::array::from_fn(|k| {
                    let r = r0 + k.min(n - 1);
                    &p[r * width * 3..(r + 1) * width * 3]
                });
                let full_blocks = width / LANES;
                for c0 in (0..full_blocks).map(|b| b * LANES) {
                    let mut block = [[0f32; LANES]; LANES];
                    for (k, row) in rows.iter().enumerate() {
                        let px = &row[c0 * 3..c0 * 3 + 3 * LANES];
                        let mut y = [0f64; LANES];
                        for (c, y) in y.iter_mut().enumerate() {
                            let (r, g, b) =
                                (px[3 * c] as f64, px[3 * c + 1] as f64, px[3 * c + 2] as f64);
                            *y = r * 0.299 + g * 0.587 + b * 0.114;
                        }
                        for (o, y) in block[k].iter_mut().zip(y) {
                            *o = y as f32;
                        }
                    }
                    let dst = &mut out[c0..c0 + LANES];
                    transpose_block::<AVX>(&block, dst);
                }
                let lut = &*LUMA_LUT;
                for (k, row) in rows.iter().enumerate().take(n) {
                    for c in full_blocks * LANES..width {
                        out[c][k] = luma(lut, row[3 * c], row[3 * c + 1], row[3 * c + 2]);
                    }
                }
            }
            Pixels::Grey8(p) => {
                let lut = &*LUMA_LUT;
                for k in 0..n {
                    let row = &p[(r0 + k) * width..(r0 + k + 1) * width];
                    for (o, &v) in out.iter_mut().zip(row) {
                        o[k] = luma(lut, v, v, v);
                    }
                }
            }
            Pixels::Luma(p) => {
                for k in 0..n {
                    let row = &p[(r0 + k) * width..(r0 + k + 1) * width];
                    for (o, &v) in out.iter_mut().zip(row) {
                        o[k] = v;
                    }
                }
            }
        }
    }
}

/// The result of hashing: the signal plus the 16×16 DCT it came from, from which the eight
/// dihedral hashes follow without touching the image again.
#[derive(Clone, Debug)]
pub struct PdqOutput {
    pub signal: PdqSignal,
    dct: [[f32; 16]; 16],
}

impl PdqOutput {
    /// The hash of the image as given.
    pub fn hash(&self) -> PdqHash {
        self.signal.hash
    }

    /// The hash of the image transformed by `o`, computed from the one DCT.
    pub fn oriented(&self, o: Orientation) -> PdqHash {
        if self.signal.quality == 0 && self.signal.hash == PdqHash::ZERO && self.is_zero_dct() {
            return PdqHash::ZERO;
        }
        let a = &self.dct;
        let mut b = [[0f32; 16]; 16];
        for i in 0..16 {
            for j in 0..16 {
                let v = a[i][j];
                match o {
                    Orientation::Original => b[i][j] = v,
                    Orientation::Rotate90 => b[j][i] = if j & 1 == 1 { v } else { -v },
                    Orientation::Rotate180 => b[i][j] = if (i + j) & 1 == 1 { -v } else { v },
                    Orientation::Rotate270 => b[j][i] = if i & 1 == 1 { v } else { -v },
                    Orientation::FlipX => b[i][j] = if i & 1 == 1 { v } else { -v },
                    Orientation::FlipY => b[i][j] = if j & 1 == 1 { v } else { -v },
                    Orientation::FlipPlus1 => b[j][i] = v,
                    Orientation::FlipMinus1 => b[j][i] = if (i + j) & 1 == 1 { -v } else { v },
                }
            }
        }
        bits_from_dct(&b)
    }

    /// All eight hashes in reference order (`[0]` is the hash itself).
    pub fn dihedral(&self) -> [PdqHash; 8] {
        Orientation::ALL.map(|o| self.oriented(o))
    }

    fn is_zero_dct(&self) -> bool {
        self.dct.iter().flatten().all(|&v| v == 0.0)
    }
}

/// Computes PDQ; keeps its scratch buffers between images so a worker thread allocates once.
#[derive(Default)]
pub struct PdqHasher {
    /// Output of the first row pass, the whole image.
    pass1: Vec<f32>,
    /// Interleaved strip buffers for row passes.
    strip_in: Vec<[f32; LANES]>,
    strip_out: Vec<[f32; LANES]>,
    /// Output rows of the first column pass, one strip at a time.
    pass2_rows: Vec<f32>,
    /// Running column sums.
    col_sums: Vec<f32>,
    /// Output of the second row pass at the kept columns only, `height × kept`.
    pass3: Vec<f32>,
    /// Never use CPU-specific code (for testing the portable build on any machine).
    portable: bool,
}

impl PdqHasher {
    pub fn new() -> PdqHasher {
        PdqHasher::default()
    }

    /// A hasher that never uses CPU-specific code paths. Results are identical; it exists so the
    /// portable path is tested on machines that have AVX2.
    pub fn portable() -> PdqHasher {
        PdqHasher {
            portable: true,
            ..PdqHasher::default()
        }
    }

    /// Hashes `pixels` of `width × height`.
    ///
    /// # Panics
    /// If the buffer length does not match the dimensions (a programming error, not an input
    /// error: decoded images always match).
    pub fn hash(&mut self, pixels: Pixels<'_>, width: usize, height: usize) -> PdqOutput {
        assert_eq!(
            pixels.len(),
            width * height * pixels.channels(),
            "pixel buffer does not match {width}×{height}"
        );
        if width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM {
            return zero_output();
        }
        let mut a = [[0f32; 64]; 64];
        if width == 64 && height == 64 {
            for (r, row) in a.iter_mut().enumerate() {
                pixels.luma_row(64, r, row);
            }
        } else if self.portable {
            self.downsample_generic::<false>(pixels, width, height, &mut a);
        } else {
            self.downsample(pixels, width, height, &mut a);
        }
        output_from_64(&a)
    }

    /// The Jarosz tent filter (rows, columns, rows, columns) and decimation to 64×64.
    fn downsample(&mut self, pixels: Pixels<'_>, w: usize, h: usize, out: &mut [[f32; 64]; 64]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2, checked just above.
                unsafe { self.downsample_avx2(pixels, w, h, out) };
                return;
            }
        }
        self.downsample_generic::<false>(pixels, w, h, out);
    }

    /// The same code compiled for AVX2 (eight f32 lanes per register). No FMA: results are
    /// identical to the generic build.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn downsample_avx2(
        &mut self,
        pixels: Pixels<'_>,
        w: usize,
        h: usize,
        out: &mut [[f32; 64]; 64],
    ) {
        self.downsample_generic::<true>(pixels, w, h, out);
    }

    /// `AVX`: the caller runs with AVX2 enabled, so the 8×8 transposes may use it.
    #[inline(always)]
    fn downsample_generic<const AVX: bool>(
        &mut self,
        pixels: Pixels<'_>,
        w: usize,
        h: usize,
        out: &mut [[f32; 64]; 64],
    ) {
        let win_rows = jarosz_window(w); // window of passes along rows
        let win_cols = jarosz_window(h); // window of passes along columns
        let sample_rows: [usize; 64] = std::array::from_fn(|i| decimation_index(i, h));
        let sample_cols: [usize; 64] = std::array::from_fn(|j| decimation_index(j, w));
        // Distinct kept columns (several output columns share one when w < 64) and, per column,
        // its slot in the compact pass-3 buffer.
        let mut kept_cols: Vec<usize> = sample_cols.to_vec();
        kept_cols.dedup();
        let mut slot_of_col = vec![usize::MAX; w];
        for (s, &c) in kept_cols.iter().enumerate() {
            slot_of_col[c] = s;
        }
        let kept = kept_cols.len();

        // Every element of these buffers is written before it is read: grow, never clear.
        grow(&mut self.strip_in, w, [0.0; LANES]);
        grow(&mut self.strip_out, w, [0.0; LANES]);
        grow(&mut self.pass1, w * h, 0.0);
        grow(&mut self.pass2_rows, LANES * w, 0.0);
        grow(&mut self.pass3, h * kept, 0.0);
        grow(&mut self.col_sums, w, 0.0);
        let PdqHasher {
            pass1,
            strip_in,
            strip_out,
            pass2_rows,
            col_sums,
            pass3,
            portable: _,
        } = self;
        let strip_in = &mut strip_in[..w];
        let strip_out = &mut strip_out[..w];
        let pass1 = &mut pass1[..w * h];
        let pass2_rows = &mut pass2_rows[..LANES * w];
        let pass3 = &mut pass3[..h * kept];
        let col_sums = &mut col_sums[..w];

        // Pass 1: along rows, every output kept.
        for r0 in (0..h).step_by(LANES) {
            let n = LANES.min(h - r0);
            pixels.luma_strip::<AVX>(w, r0, n, strip_in);
            let mut sum = [0f32; LANES];
            box_phases!(w, win_rows,
                add(i) => { add_lanes(&mut sum, &strip_in[i]) },
                sub(i) => { sub_lanes(&mut sum, &strip_in[i]) },
                emit(o, count) => { strip_out[o] = div_lanes(&sum, count) });
            deinterleave::<AVX>(strip_out, &mut pass1[r0 * w..(r0 + n) * w], w, n);
        }

        // Pass 2: along columns, every output kept, produced strip by strip; each finished strip
        // goes straight through pass 3 (along rows, only the kept columns written).
        col_sums.fill(0.0);
        box_phases!(h, win_cols,
        add(r) => { add_row(col_sums, &pass1[r * w..(r + 1) * w]) },
        sub(r) => { sub_row(col_sums, &pass1[r * w..(r + 1) * w]) },
        emit(oi, count) => {
            let k = oi % LANES;
            for (d, s) in pass2_rows[k * w..(k + 1) * w].iter_mut().zip(col_sums.iter()) {
                *d = s / count;
            }
            if k == LANES - 1 || oi == h - 1 {
                let r0 = oi - k;
                let n = k + 1;
                interleave::<AVX>(&pass2_rows[..n * w], strip_in, w, n);
                let mut sum = [0f32; LANES];
                box_phases!(w, win_rows,
                    add(i) => { add_lanes(&mut sum, &strip_in[i]) },
                    sub(i) => { sub_lanes(&mut sum, &strip_in[i]) },
                    emit(col, count3) => {
                        let slot = slot_of_col[col];
                        if slot != usize::MAX {
                            for kk in 0..n {
                                pass3[(r0 + kk) * kept + slot] = sum[kk] / count3;
                            }
                        }
                    });
            }
        });

        // Pass 4: along columns over the kept columns, only the kept rows written.
        let mut next_sample = 0usize;
        let mut sums = [0f32; 64];
        let sums = &mut sums[..kept];
        box_phases!(h, win_cols,
        add(r) => { add_row(sums, &pass3[r * kept..(r + 1) * kept]) },
        sub(r) => { sub_row(sums, &pass3[r * kept..(r + 1) * kept]) },
        emit(oi, count) => {
            while next_sample < 64 && sample_rows[next_sample] == oi {
                for (j, &col) in sample_cols.iter().enumerate() {
                    out[next_sample][j] = sums[slot_of_col[col]] / count;
                }
                next_sample += 1;
            }
        });
        debug_assert_eq!(next_sample, 64);
    }
}

/// The hash, quality and DCT of the 64×64 decimated image.
fn output_from_64(a: &[[f32; 64]; 64]) -> PdqOutput {
    let quality = quality_metric(a);
    let dct = dct64_to_16(a);
    PdqOutput {
        signal: PdqSignal {
            hash: bits_from_dct(&dct),
            quality,
        },
        dct,
    }
}

fn zero_output() -> PdqOutput {
    PdqOutput {
        signal: PdqSignal {
            hash: PdqHash::ZERO,
            quality: 0,
        },
        dct: [[0.0; 16]; 16],
    }
}

/// One axis of the reference's running box filter fed one item at a time: the same additions,
/// subtractions and divisions in the same order as [`box_phases!`], so the same bits.
#[derive(Clone, Copy, Debug)]
struct RunningBox {
    n: usize,
    window: usize,
    half: usize,
    pushed: usize,
}

/// What one step of a [`RunningBox`] asks for: add item `add`, then subtract item `sub`, then
/// emit output `emit.0` with `emit.1` items in the window.
struct BoxStep {
    add: Option<usize>,
    sub: Option<usize>,
    emit: Option<(usize, f32)>,
}

impl RunningBox {
    fn new(n: usize, window: usize) -> RunningBox {
        debug_assert!(window >= 1 && window <= n);
        RunningBox {
            n,
            window,
            half: (window + 2) / 2,
            pushed: 0,
        }
    }

    /// The step for the next item pushed.
    fn push(&mut self) -> BoxStep {
        let ri = self.pushed;
        debug_assert!(ri < self.n);
        self.pushed += 1;
        BoxStep {
            add: Some(ri),
            sub: (ri >= self.window).then(|| ri - self.window),
            emit: (ri + 1 >= self.half)
                .then(|| (ri + 1 - self.half, (ri + 1).min(self.window) as f32)),
        }
    }

    /// The steps after the last item (the shrinking window), in order.
    fn tail(&self) -> impl Iterator<Item = BoxStep> + '_ {
        (0..self.half - 1).map(move |k| BoxStep {
            add: None,
            sub: Some(self.n - self.window + k),
            emit: Some((self.n + 1 - self.half + k, (self.window - 1 - k) as f32)),
        })
    }
}

/// PDQ of an image fed one row at a time, so the image never has to be in memory: the
/// reference's four box-filter passes run as rows arrive, keeping only the last
/// `ceil(height / 128) + 1` rows of the first pass (`width` floats each), eight rows at a time
/// waiting for the first and third passes (filtered side by side, as [`PdqHasher`] does), and
/// the 64 kept columns of the third. Memory is about `4 · width · (height / 128 + 28)` bytes —
/// roughly one 32nd of the pixel count in bytes — instead of [`PdqHasher`]'s four bytes a pixel
/// plus the decoded image.
///
/// Bit-exact with [`PdqHasher::hash`] on the same pixels: every running sum sees the same
/// operations in the same order (see `stream_tests`).
pub struct PdqStream {
    w: usize,
    h: usize,
    /// Rows pushed so far.
    rows: usize,
    /// Under 5 pixels a side: the hash is zero, nothing is computed.
    tiny: bool,
    /// 64×64: the luma is the decimated image.
    direct: bool,
    win_rows: usize,
    ring_len: usize,
    sample_rows: [usize; 64],
    sample_cols: [usize; 64],
    slot_of_col: Vec<usize>,
    kept: usize,
    luma: Vec<f32>,
    /// First-pass rows, `ring_len` of them, row `r` in slot `r % ring_len`.
    ring1: Vec<f32>,
    col_sums: Vec<f32>,
    pass2_row: Vec<f32>,
    /// Third-pass rows at the kept columns, `ring3_len` of them.
    ring3: Vec<f32>,
    ring3_len: usize,
    /// Rows waiting for the first pass, eight interleaved (as [`PdqHasher`] filters them, so
    /// eight independent running sums share each vector step): `n1` of them, from row `r1`.
    strip1: Vec<[f32; LANES]>,
    strip1_out: Vec<[f32; LANES]>,
    n1: usize,
    r1: usize,
    /// Second-pass rows waiting for the third pass: `n3` of them, from output row `o3`.
    strip3: Vec<[f32; LANES]>,
    n3: usize,
    o3: usize,
    sums4: [f32; 64],
    box2: RunningBox,
    box4: RunningBox,
    next_sample: usize,
    out: Box<[[f32; 64]; 64]>,
}

impl PdqStream {
    /// The bytes of working memory a stream over `width × height` allocates.
    pub fn memory_bytes(width: usize, height: usize) -> u64 {
        if width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM {
            return 0;
        }
        let ring = jarosz_window(height) as u64 + 1;
        4 * width as u64 * (ring + 3 + 3 * LANES as u64)
            + 4 * 64 * (ring + LANES as u64)
            + 16 * 1024
    }

    /// A stream for an image of `width × height`; rows are then pushed top to bottom.
    pub fn new(width: usize, height: usize) -> PdqStream {
        let tiny = width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM;
        let direct = width == 64 && height == 64;
        let (w, h) = if tiny { (1, 1) } else { (width, height) };
        let sample_rows: [usize; 64] = std::array::from_fn(|i| decimation_index(i, h));
        let sample_cols: [usize; 64] = std::array::from_fn(|j| decimation_index(j, w));
        let mut kept_cols: Vec<usize> = sample_cols.to_vec();
        kept_cols.dedup();
        let (busy, kept) = (!tiny && !direct, kept_cols.len());
        let mut slot_of_col = vec![usize::MAX; if busy { w } else { 0 }];
        for (s, &c) in kept_cols.iter().enumerate() {
            if busy {
                slot_of_col[c] = s;
            }
        }
        let ring_len = jarosz_window(h) + 1;
        let row_buf = |len: usize| vec![0f32; if busy { len } else { 0 }];
        PdqStream {
            w: width,
            h: height,
            rows: 0,
            tiny,
            direct,
            win_rows: jarosz_window(w),
            ring_len,
            sample_rows,
            sample_cols,
            slot_of_col,
            kept,
            luma: vec![0f32; if tiny { 0 } else { width }],
            ring1: row_buf(ring_len * w),
            col_sums: row_buf(w),
            pass2_row: row_buf(w),
            ring3: row_buf((ring_len - 1 + LANES) * kept),
            ring3_len: ring_len - 1 + LANES,
            strip1: vec![[0.0; LANES]; if busy { w } else { 0 }],
            strip1_out: vec![[0.0; LANES]; if busy { w } else { 0 }],
            n1: 0,
            r1: 0,
            strip3: vec![[0.0; LANES]; if busy { w } else { 0 }],
            n3: 0,
            o3: 0,
            sums4: [0.0; 64],
            box2: RunningBox::new(h, jarosz_window(h)),
            box4: RunningBox::new(h, jarosz_window(h)),
            next_sample: 0,
            out: Box::new([[0f32; 64]; 64]),
        }
    }

    pub fn width(&self) -> usize {
        self.w
    }

    pub fn height(&self) -> usize {
        self.h
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Pushes the next row: `row` holds exactly one row (`width` pixels). Rows past the
    /// image's height are ignored.
    ///
    /// # Panics
    /// If `row` is not one row long (a programming error: decoders give whole rows).
    pub fn push_row(&mut self, row: Pixels<'_>) {
        assert_eq!(
            row.len(),
            self.w * row.channels(),
            "a row of a {}-pixel-wide image",
            self.w
        );
        if self.rows >= self.h {
            return;
        }
        self.rows += 1;
        if self.tiny {
            return;
        }
        let mut luma = std::mem::take(&mut self.luma);
        row.luma_row(self.w, 0, &mut luma);
        self.push_luma(&luma);
        self.luma = luma;
    }

    fn push_luma(&mut self, luma: &[f32]) {
        let r = self.rows - 1;
        if self.direct {
            self.out[r].copy_from_slice(luma);
            return;
        }
        let k = self.n1;
        for (o, v) in self.strip1.iter_mut().zip(luma) {
            o[k] = *v;
        }
        self.n1 += 1;
        if self.n1 == LANES {
            self.flush1();
        }
    }

    /// Pass 1 (along rows) over the buffered rows, each then into the ring and pass 2.
    fn flush1(&mut self) {
        let (w, n) = (self.w, self.n1);
        if n == 0 {
            return;
        }
        let (src, dst) = (&self.strip1, &mut self.strip1_out);
        let mut sum = [0f32; LANES];
        box_phases!(w, self.win_rows,
            add(i) => { add_lanes(&mut sum, &src[i]) },
            sub(i) => { sub_lanes(&mut sum, &src[i]) },
            emit(o, count) => { dst[o] = div_lanes(&sum, count) });
        for k in 0..n {
            let slot = (self.r1 + k) % self.ring_len;
            for (d, s) in self.ring1[slot * w..(slot + 1) * w]
                .iter_mut()
                .zip(&self.strip1_out)
            {
                *d = s[k];
            }
            let step = self.box2.push();
            self.pass2_step(step);
        }
        self.r1 += n;
        self.n1 = 0;
    }

    /// One step of pass 2 (along columns); an emitted row waits for pass 3.
    fn pass2_step(&mut self, step: BoxStep) {
        let w = self.w;
        if let Some(a) = step.add {
            let s = a % self.ring_len;
            add_row(&mut self.col_sums, &self.ring1[s * w..(s + 1) * w]);
        }
        if let Some(b) = step.sub {
            let s = b % self.ring_len;
            sub_row(&mut self.col_sums, &self.ring1[s * w..(s + 1) * w]);
        }
        let Some((oi, count)) = step.emit else {
            return;
        };
        for (d, s) in self.pass2_row.iter_mut().zip(&self.col_sums) {
            *d = s / count;
        }
        if self.n3 == 0 {
            self.o3 = oi;
        }
        let k = self.n3;
        for (o, v) in self.strip3.iter_mut().zip(&self.pass2_row) {
            o[k] = *v;
        }
        self.n3 += 1;
        if self.n3 == LANES {
            self.flush3();
        }
    }

    /// Pass 3 (along rows, only the kept columns stored) over the buffered rows, each then
    /// into pass 4.
    fn flush3(&mut self) {
        let (w, n, kept) = (self.w, self.n3, self.kept);
        if n == 0 {
            return;
        }
        let (src, slot_of_col) = (&self.strip3, &self.slot_of_col);
        let (ring3, ring3_len, o3) = (&mut self.ring3, self.ring3_len, self.o3);
        let mut sum = [0f32; LANES];
        box_phases!(w, self.win_rows,
        add(i) => { add_lanes(&mut sum, &src[i]) },
        sub(i) => { sub_lanes(&mut sum, &src[i]) },
        emit(col, count3) => {
            let s = slot_of_col[col];
            if s != usize::MAX {
                for (k, v) in sum.iter().enumerate().take(n) {
                    ring3[((o3 + k) % ring3_len) * kept + s] = v / count3;
                }
            }
        });
        self.n3 = 0;
        for _ in 0..n {
            let step4 = self.box4.push();
            self.pass4_step(step4);
        }
    }

    /// One step of pass 4 (along columns, kept columns only); kept rows are written out.
    fn pass4_step(&mut self, step: BoxStep) {
        let kept = self.kept;
        let sums = &mut self.sums4[..kept];
        if let Some(a) = step.add {
            let s = a % self.ring3_len;
            add_row(sums, &self.ring3[s * kept..(s + 1) * kept]);
        }
        if let Some(b) = step.sub {
            let s = b % self.ring3_len;
            sub_row(sums, &self.ring3[s * kept..(s + 1) * kept]);
        }
        if let Some((oi, count)) = step.emit {
            while self.next_sample < 64 && self.sample_rows[self.next_sample] == oi {
                for (j, &col) in self.sample_cols.iter().enumerate() {
                    self.out[self.next_sample][j] = sums[self.slot_of_col[col]] / count;
                }
                self.next_sample += 1;
            }
        }
    }

    /// The hash. Rows not pushed (an image that ended early) are a flat mid-grey fill — the
    /// fill Candor uses for truncated images (PDQ ignores the level of a full-width flat fill).
    pub fn finish(mut self) -> PdqOutput {
        if self.tiny {
            return zero_output();
        }
        if self.rows < self.h {
            let mut flat = std::mem::take(&mut self.luma);
            flat.fill(128.0);
            while self.rows < self.h {
                self.rows += 1;
                self.push_luma(&flat);
            }
        }
        if self.direct {
            return output_from_64(&self.out);
        }
        self.flush1();
        let box2 = self.box2;
        for step in box2.tail() {
            self.pass2_step(step);
        }
        self.flush3();
        let box4 = self.box4;
        for step in box4.tail() {
            self.pass4_step(step);
        }
        debug_assert_eq!(self.next_sample, 64);
        output_from_64(&self.out)
    }
}

fn grow<T: Copy>(v: &mut Vec<T>, len: usize, fill: T) {
    if v.len() < len {
        v.resize(len, fill);
    }
}

#[inline(always)]
fn div_lanes(sum: &[f32; LANES], count: f32) -> [f32; LANES] {
    let mut out = [0f32; LANES];
    for (o, s) in out.iter_mut().zip(sum) {
        *o = s / count;
    }
    out
}

/// Rows `0..n` of `rows` (row-major, width `w`) into lanes `0..n` of `strip`; other lanes zero.
#[inline(always)]
fn interleave<const AVX: bool>(rows: &[f32], strip: &mut [[f32; LANES]], w: usize, n: usize) {
    if n == LANES {
        let mut c0 = 0;
        #[cfg(target_arch = "x86_64")]
        if AVX {
            while c0 + LANES <= w {
                let src = &rows[c0..7 * w + c0 + LANES];
                let dst = strip[c0..c0 + LANES].as_flattened_mut();
                // SAFETY: AVX is enabled in the caller (AVX = true); 8 rows of 8 at stride w
                // lie inside `src`, and 8 × 8 contiguous floats inside `dst`.
                unsafe { transpose8x8(src.as_ptr(), w, dst.as_mut_ptr(), LANES) };
                c0 += LANES;
            }
        }
        while c0 + LANES <= w {
            for k in 0..LANES {
                let src = &rows[k * w + c0..k * w + c0 + LANES];
                for c in 0..LANES {
                    strip[c0 + c][k] = src[c];
                }
            }
            c0 += LANES;
        }
        for c in c0..w {
            for k in 0..LANES {
                strip[c][k] = rows[k * w + c];
            }
        }
    } else {
        for (c, s) in strip.iter_mut().enumerate() {
            for k in 0..LANES {
                s[k] = if k < n { rows[k * w + c] } else { 0.0 };
            }
        }
    }
}

/// Lanes `0..n` of `strip` into rows `0..n` of `rows` (row-major, width `w`).
#[inline(always)]
fn deinterleave<const AVX: bool>(strip: &[[f32; LANES]], rows: &mut [f32], w: usize, n: usize) {
    if n == LANES {
        let mut c0 = 0;
        #[cfg(target_arch = "x86_64")]
        if AVX {
            while c0 + LANES <= w {
                let src = strip[c0..c0 + LANES].as_flattened();
                let dst = &mut rows[c0..7 * w + c0 + LANES];
                // SAFETY: as in `interleave`, with the roles swapped.
                unsafe { transpose8x8(src.as_ptr(), LANES, dst.as_mut_ptr(), w) };
                c0 += LANES;
            }
        }
        while c0 + LANES <= w {
            let block: &[[f32; LANES]] = &strip[c0..c0 + LANES];
            for k in 0..LANES {
                let dst = &mut rows[k * w + c0..k * w + c0 + LANES];
                for c in 0..LANES {
                    dst[c] = block[c][k];
                }
            }
            c0 += LANES;
        }
        for c in c0..w {
            for k in 0..LANES {
                rows[k * w + c] = strip[c][k];
            }
        }
    } else {
        for k in 0..n {
            for (c, s) in strip.iter().enumerate() {
                rows[k * w + c] = s[k];
            }
        }
    }
}

/// `dst[c][k] = block[k][c]`.
#[inline(always)]
fn transpose_block<const AVX: bool>(block: &[[f32; LANES]; LANES], dst: &mut [[f32; LANES]]) {
    let dst = &mut dst[..LANES];
    #[cfg(target_arch = "x86_64")]
    if AVX {
        // SAFETY: AVX is enabled in the caller; both blocks are 8 × 8 contiguous floats.
        unsafe {
            transpose8x8(
                block.as_flattened().as_ptr(),
                LANES,
                dst.as_flattened_mut().as_mut_ptr(),
                LANES,
            )
        };
        return;
    }
    for (c, d) in dst.iter_mut().enumerate() {
        for (k, v) in d.iter_mut().enumerate() {
            *v = block[k][c];
        }
    }
}

/// Transposes the 8×8 block of rows `src[i * src_stride..][..8]` into
/// `dst[j * dst_stride..][..8]`.
///
/// # Safety
/// The CPU must support AVX; both blocks must be in bounds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline]
unsafe fn transpose8x8(src: *const f32, src_stride: usize, dst: *mut f32, dst_stride: usize) {
    use std::arch::x86_64::*;
    let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * src_stride)));
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    let out = [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ];
    for (i, v) in out.into_iter().enumerate() {
        _mm256_storeu_ps(dst.add(i * dst_stride), v);
    }
}

/// `floor((i + 0.5) * dim / 64)` in double precision, as the reference decimates.
#[inline]
fn decimation_index(i: usize, dim: usize) -> usize {
    (((i as f64 + 0.5) * dim as f64) / 64.0) as usize
}

/// The reference quality metric: significant gradients of the 64×64 image, scaled to 0..=100.
fn quality_metric(a: &[[f32; 64]; 64]) -> u8 {
    let mut gradient_sum: i64 = 0;
    let term = |u: f32, v: f32| -> i64 {
        let d = ((u - v) * 100.0) / 255.0;
        (d as i32).unsigned_abs() as i64
    };
    for pair in a.windows(2) {
        for (&u, &v) in pair[0].iter().zip(&pair[1]) {
            gradient_sum += term(u, v);
        }
    }
    for row in a.iter() {
        for pair in row.windows(2) {
            gradient_sum += term(pair[0], pair[1]);
        }
    }
    (gradient_sum / 90).min(100) as u8
}

/// `D A Dᵀ` for the 16×64 DCT matrix `D`, in the reference's accumulation order.
fn dct64_to_16(a: &[[f32; 64]; 64]) -> [[f32; 16]; 16] {
    let d = &*DCT;
    // T = D A: T[i][j] = Σ_k D[i][k] A[k][j], k ascending.
    let mut t = [[0f32; 64]; 16];
    for (ti, di) in t.iter_mut().zip(d.iter()) {
        for (k, ak) in a.iter().enumerate() {
            let dik = di[k];
            for (tij, akj) in ti.iter_mut().zip(ak) {
                *tij += dik * akj;
            }
        }
    }
    // B = T Dᵀ: B[i][j] = Σ_k T[i][k] D[j][k], k ascending.
    let mut b = [[0f32; 16]; 16];
    for (bi, ti) in b.iter_mut().zip(t.iter()) {
        for k in 0..64 {
            let tik = ti[k];
            for (j, bij) in bi.iter_mut().enumerate() {
                *bij += tik * d[j][k];
            }
        }
    }
    b
}

/// Bits above the lower median.
fn bits_from_dct(b: &[[f32; 16]; 16]) -> PdqHash {
    let mut values = [0f32; 256];
    for (i, row) in b.iter().enumerate() {
        values[i * 16..i * 16 + 16].copy_from_slice(row);
    }
    // Torben's median of 256 values is the 128th smallest.
    let (_, median, _) = values.select_nth_unstable_by(127, |x, y| x.total_cmp(y));
    let median = *median;
    let mut h = PdqHash::ZERO;
    for (i, row) in b.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            if v > median {
                h.set_bit(i * 16 + j);
            }
        }
    }
    h
}

#[cfg(test)]
mod reference_tests {
    //! A direct transcription of the algorithm (whole-buffer passes, every output computed) as
    //! an oracle for the optimised path.
    use super::*;

    fn box1d(input: &[f32], out: &mut [f32], n: usize, stride: usize, window: usize) {
        let half = (window + 2) / 2;
        let (mut li, mut ri, mut oi) = (0, 0, 0);
        let mut sum = 0f32;
        let mut count = 0i32;
        for _ in 0..half - 1 {
            sum += input[ri];
            count += 1;
            ri += stride;
        }
        for _ in 0..window - half + 1 {
            sum += input[ri];
            count += 1;
            out[oi] = sum / count as f32;
            ri += stride;
            oi += stride;
        }
        for _ in 0..n - window {
            sum += input[ri];
            sum -= input[li];
            out[oi] = sum / count as f32;
            li += stride;
            ri += stride;
            oi += stride;
        }
        for _ in 0..half - 1 {
            sum -= input[li];
            count -= 1;
            out[oi] = sum / count as f32;
            li += stride;
            oi += stride;
        }
    }

    pub(crate) fn reference_hash(
        pixels: Pixels<'_>,
        w: usize,
        h: usize,
    ) -> ([[f32; 64]; 64], PdqSignal) {
        let mut buf1 = vec![0f32; w * h];
        let mut row = vec![0f32; w];
        for r in 0..h {
            pixels.luma_row(w, r, &mut row);
            buf1[r * w..(r + 1) * w].copy_from_slice(&row);
        }
        let mut a = [[0f32; 64]; 64];
        if w == 64 && h == 64 {
            for r in 0..64 {
                a[r].copy_from_slice(&buf1[r * 64..r * 64 + 64]);
            }
        } else {
            let mut buf2 = vec![0f32; w * h];
            let (wr, wc) = (jarosz_window(w), jarosz_window(h));
            for _ in 0..2 {
                for r in 0..h {
                    box1d(&buf1[r * w..], &mut buf2[r * w..], w, 1, wr);
                }
                for c in 0..w {
                    box1d(&buf2[c..], &mut buf1[c..], h, w, wc);
                }
            }
            for i in 0..64 {
                for j in 0..64 {
                    a[i][j] = buf1[decimation_index(i, h) * w + decimation_index(j, w)];
                }
            }
        }
        let q = quality_metric(&a);
        let dct = dct64_to_16(&a);
        (
            a,
            PdqSignal {
                hash: bits_from_dct(&dct),
                quality: q,
            },
        )
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// Smooth-ish RGB content plus noise, so hashes are not degenerate.
    fn test_image(rng: &mut Rng, w: usize, h: usize) -> Vec<u8> {
        let mut rgb = vec![0u8; w * h * 3];
        let (fx, fy) = ((rng.next() % 7 + 1) as f32, (rng.next() % 5 + 1) as f32);
        for y in 0..h {
            for x in 0..w {
                for ch in 0..3 {
                    let base = 127.0
                        + 100.0
                            * ((x as f32 / w as f32 * fx + ch as f32).sin()
                                * (y as f32 / h as f32 * fy).cos());
                    let noise = (rng.next() % 41) as f32 - 20.0;
                    rgb[(y * w + x) * 3 + ch] = (base + noise).clamp(0.0, 255.0) as u8;
                }
            }
        }
        rgb
    }

    #[test]
    fn optimised_path_equals_transcription() {
        let mut rng = Rng(0x9e3779b97f4a7c15);
        let mut hasher = PdqHasher::new();
        let mut portable = PdqHasher::portable();
        let sizes = [
            (5, 5),
            (6, 17),
            (17, 6),
            (63, 64),
            (64, 64),
            (65, 65),
            (127, 129),
            (128, 128),
            (1000, 10),
            (10, 1000),
            (300, 200),
            (777, 555),
            (1601, 257),
        ];
        for (w, h) in sizes {
            let rgb = test_image(&mut rng, w, h);
            let px = Pixels::Rgb8(&rgb);
            let got = hasher.hash(px, w, h);
            let (_, want) = reference_hash(px, w, h);
            assert_eq!(got.signal, want, "{w}x{h}");
            assert_eq!(portable.hash(px, w, h).signal, want, "portable {w}x{h}");
            let grey: Vec<u8> = rgb.iter().step_by(3).copied().collect();
            let (_, want_grey) = reference_hash(Pixels::Grey8(&grey), w, h);
            assert_eq!(
                hasher.hash(Pixels::Grey8(&grey), w, h).signal,
                want_grey,
                "grey {w}x{h}"
            );
        }
    }

    #[test]
    fn tiny_images_hash_to_zero() {
        let mut hasher = PdqHasher::new();
        for (w, h) in [(4, 9), (9, 4), (1, 1), (4, 4)] {
            let grey = vec![200u8; w * h];
            let out = hasher.hash(Pixels::Grey8(&grey), w, h);
            assert_eq!(out.signal.hash, PdqHash::ZERO);
            assert_eq!(out.signal.quality, 0);
            assert_eq!(out.dihedral(), [PdqHash::ZERO; 8]);
        }
    }

    #[test]
    fn flat_image_has_quality_zero() {
        let mut hasher = PdqHasher::new();
        let grey = vec![90u8; 200 * 100];
        let out = hasher.hash(Pixels::Grey8(&grey), 200, 100);
        assert_eq!(out.signal.quality, 0);
    }

    #[test]
    fn dihedral_zero_is_the_hash() {
        let mut rng = Rng(42);
        let mut hasher = PdqHasher::new();
        let grey: Vec<u8> = (0..300 * 170).map(|_| (rng.next() % 256) as u8).collect();
        let out = hasher.hash(Pixels::Grey8(&grey), 300, 170);
        assert_eq!(out.dihedral()[0], out.hash());
    }

    #[test]
    fn stream_equals_whole_image_hash() {
        let mut rng = Rng(0x2545f4914f6cdd1d);
        let mut hasher = PdqHasher::new();
        let sizes = [
            (4, 4),
            (5, 5),
            (6, 17),
            (17, 6),
            (63, 64),
            (64, 64),
            (64, 65),
            (65, 65),
            (127, 129),
            (128, 128),
            (129, 127),
            (1000, 10),
            (10, 1000),
            (300, 200),
            (777, 555),
            (1601, 257),
            (257, 1601),
        ];
        for (w, h) in sizes {
            let rgb = test_image(&mut rng, w, h);
            let whole = hasher.hash(Pixels::Rgb8(&rgb), w, h);
            let mut stream = PdqStream::new(w, h);
            for row in rgb.chunks_exact(w * 3) {
                stream.push_row(Pixels::Rgb8(row));
            }
            let streamed = stream.finish();
            assert_eq!(streamed.signal, whole.signal, "{w}x{h}");
            assert_eq!(streamed.dct, whole.dct, "{w}x{h} dct");
            let grey: Vec<u8> = rgb.iter().step_by(3).copied().collect();
            let mut stream = PdqStream::new(w, h);
            for row in grey.chunks_exact(w) {
                stream.push_row(Pixels::Grey8(row));
            }
            assert_eq!(
                stream.finish().signal,
                hasher.hash(Pixels::Grey8(&grey), w, h).signal,
                "grey {w}x{h}"
            );
        }
    }

    #[test]
    fn stream_fills_missing_rows_flat() {
        let (w, h) = (90, 120);
        let mut rng = Rng(7);
        let grey: Vec<u8> = (0..w * h).map(|_| (rng.next() % 256) as u8).collect();
        let cut = 100;
        let mut filled = grey.clone();
        filled[cut * w..].fill(128);
        let mut stream = PdqStream::new(w, h);
        for row in grey.chunks_exact(w).take(cut) {
            stream.push_row(Pixels::Grey8(row));
        }
        assert_eq!(stream.rows(), cut);
        let want = PdqHasher::new().hash(Pixels::Grey8(&filled), w, h);
        assert_eq!(stream.finish().signal, want.signal);
        // More rows than the image has are ignored.
        let mut stream = PdqStream::new(w, h);
        for row in grey.chunks_exact(w).chain(grey.chunks_exact(w).take(3)) {
            stream.push_row(Pixels::Grey8(row));
        }
        let want = PdqHasher::new().hash(Pixels::Grey8(&grey), w, h);
        assert_eq!(stream.finish().signal, want.signal);
    }
}
