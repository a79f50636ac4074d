//! Kernels with run-time CPU dispatch: the flat scan (distance of one query to a run of
//! hashes) and the bucket filter scan (bytes within a small Hamming distance of a query byte).
//!
//! Levels: [`SimdLevel::Avx512`] (AVX-512 F/BW with VPOPCNTDQ and BITALG), [`SimdLevel::Avx2`]
//! (AVX2, POPCNT, BMI2) and [`SimdLevel::Portable`] (plain Rust). Every level returns the same
//! results; the tests check each level the CPU has against the portable one.
use crate::hash::Hash256;
use std::sync::OnceLock;

/// The instruction set a kernel runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdLevel {
    Portable,
    Avx2,
    Avx512,
}

impl SimdLevel {
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Portable => "portable",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512-vpopcntdq",
        }
    }

    /// Whether this CPU can run kernels of this level.
    pub fn supported(self) -> bool {
        match self {
            SimdLevel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("popcnt")
                    && std::arch::is_x86_feature_detected!("bmi1")
                    && std::arch::is_x86_feature_detected!("bmi2")
            }
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512 => {
                SimdLevel::Avx2.supported()
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
                    && std::arch::is_x86_feature_detected!("avx512bitalg")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

/// The best level this CPU supports (detected once). Setting the environment variable
/// `CANDOR_SIMD` to `portable` or `avx2` caps it (for benchmarks and debugging).
pub fn detected() -> SimdLevel {
    static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let cap = match std::env::var("CANDOR_SIMD").as_deref() {
            Ok("portable") => SimdLevel::Portable,
            Ok("avx2") => SimdLevel::Avx2,
            _ => SimdLevel::Avx512,
        };
        [SimdLevel::Avx512, SimdLevel::Avx2, SimdLevel::Portable]
            .into_iter()
            .find(|l| *l <= cap && l.supported())
            .unwrap_or(SimdLevel::Portable)
    })
}

/// Bytes of padding the filter arrays carry past their last entry, so that a kernel may load
/// a whole vector starting at any entry.
pub(crate) const FILTER_PAD: usize = 64;

/// Appends `(base + i, distance)` for every `hashes[i]` within `radius` of `q`.
pub(crate) fn flat_scan(
    level: SimdLevel,
    hashes: &[Hash256],
    q: &Hash256,
    radius: u32,
    base: u32,
    out: &mut Vec<(u32, u32)>,
) {
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 if level.supported() => unsafe {
            x86::flat_avx512(hashes, q, radius, base, out)
        },
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 | SimdLevel::Avx512 if SimdLevel::Avx2.supported() => unsafe {
            x86::flat_avx2(hashes, q, radius, base, out)
        },
        _ => flat_portable(hashes, q, radius, base, out),
    }
}

#[inline(always)]
pub(crate) fn flat_portable(
    hashes: &[Hash256],
    q: &Hash256,
    radius: u32,
    base: u32,
    out: &mut Vec<(u32, u32)>,
) {
    for (i, h) in hashes.iter().enumerate() {
        let d = h.distance(q);
        if d <= radius {
            out.push((base + i as u32, d));
        }
    }
}

/// Calls `f(p)` for every `p` in `start..end` with `popcount(filt[p] ^ qf) <= k` (`k < 8`).
/// `filt` must extend at least [`FILTER_PAD`] bytes past `end`.
///
/// # Safety
/// `L` must be a level the CPU supports (1 = AVX2, 2 = AVX-512), and the padding must hold.
#[inline(always)]
pub(crate) unsafe fn filter_scan<const L: u8>(
    filt: &[u8],
    start: usize,
    end: usize,
    qf: u8,
    k: u32,
    f: &mut impl FnMut(usize),
) {
    debug_assert!(end + FILTER_PAD <= filt.len());
    match L {
        #[cfg(target_arch = "x86_64")]
        2 => x86::filter_avx512(filt, start, end, qf, k, f),
        #[cfg(target_arch = "x86_64")]
        1 => x86::filter_avx2(filt, start, end, qf, k, f),
        _ => filter_portable(filt, start, end, qf, k, f),
    }
}

/// Calls `f(p)` for every `p` in `start..end` with `popcount(filt[p] ^ qf) <= k` (`k < 16`).
/// `filt` must extend at least `FILTER_PAD / 2` values past `end`.
///
/// # Safety
/// As for [`filter_scan`].
#[inline(always)]
pub(crate) unsafe fn filter16_scan<const L: u8>(
    filt: &[u16],
    start: usize,
    end: usize,
    qf: u16,
    k: u32,
    f: &mut impl FnMut(usize),
) {
    debug_assert!(end + FILTER_PAD / 2 <= filt.len());
    match L {
        #[cfg(target_arch = "x86_64")]
        2 => x86::filter16_avx512(filt, start, end, qf, k, f),
        #[cfg(target_arch = "x86_64")]
        1 => x86::filter16_avx2(filt, start, end, qf, k, f),
        _ => filter16_portable(filt, start, end, qf, k, f),
    }
}

#[inline(always)]
pub(crate) fn filter16_portable(
    filt: &[u16],
    start: usize,
    end: usize,
    qf: u16,
    k: u32,
    f: &mut impl FnMut(usize),
) {
    for (p, &b) in filt[start..end].iter().enumerate() {
        if (b ^ qf).count_ones() <= k {
            f(start + p);
        }
    }
}

#[inline(always)]
pub(crate) fn filter_portable(
    filt: &[u8],
    start: usize,
    end: usize,
    qf: u8,
    k: u32,
    f: &mut impl FnMut(usize),
) {
    for (p, &b) in filt[start..end].iter().enumerate() {
        if (b ^ qf).count_ones() <= k {
            f(start + p);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Hash256;
    use std::arch::x86_64::*;

    #[inline(always)]
    fn each_bit(mut m: u64, base: usize, f: &mut impl FnMut(usize)) {
        while m != 0 {
            f(base + m.trailing_zeros() as usize);
            m &= m - 1;
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512bitalg")]
    #[inline]
    pub(super) unsafe fn filter_avx512(
        filt: &[u8],
        start: usize,
        end: usize,
        qf: u8,
        k: u32,
        f: &mut impl FnMut(usize),
    ) {
        let qv = _mm512_set1_epi8(qf as i8);
        let kv = _mm512_set1_epi8(k as i8);
        let zero = _mm512_setzero_si512();
        let ptr = filt.as_ptr();
        let mut p = start;
        while p < end {
            // In bounds: p < end and filt extends FILTER_PAD (64) bytes past end.
            let v = _mm512_loadu_si512(ptr.add(p) as *const _);
            let x = _mm512_xor_si512(v, qv);
            let mut m = if k == 0 {
                _mm512_cmpeq_epi8_mask(x, zero)
            } else {
                _mm512_cmple_epu8_mask(_mm512_popcnt_epi8(x), kv)
            };
            let n = end - p;
            if n < 64 {
                m &= (1u64 << n) - 1;
            }
            each_bit(m, p, f);
            p += 64;
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512bitalg")]
    #[inline]
    pub(super) unsafe fn filter16_avx512(
        filt: &[u16],
        start: usize,
        end: usize,
        qf: u16,
        k: u32,
        f: &mut impl FnMut(usize),
    ) {
        let qv = _mm512_set1_epi16(qf as i16);
        let kv = _mm512_set1_epi16(k as i16);
        let ptr = filt.as_ptr();
        let mut p = start;
        while p < end {
            // In bounds: p < end and filt extends 32 values past end.
            let v = _mm512_loadu_si512(ptr.add(p) as *const _);
            let x = _mm512_xor_si512(v, qv);
            let mut m = u64::from(_mm512_cmple_epu16_mask(_mm512_popcnt_epi16(x), kv));
            let n = end - p;
            if n < 32 {
                m &= (1u64 << n) - 1;
            }
            each_bit(m, p, f);
            p += 32;
        }
    }

    #[target_feature(enable = "avx2,bmi2")]
    #[inline]
    pub(super) unsafe fn filter16_avx2(
        filt: &[u16],
        start: usize,
        end: usize,
        qf: u16,
        k: u32,
        f: &mut impl FnMut(usize),
    ) {
        let qv = _mm256_set1_epi16(qf as i16);
        let kv = _mm256_set1_epi16(k as i16);
        let low = _mm256_set1_epi8(0x0f);
        let lut = _mm256_setr_epi8(
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2,
            3, 3, 4,
        );
        let ptr = filt.as_ptr();
        let mut p = start;
        while p < end {
            let v = _mm256_loadu_si256(ptr.add(p) as *const __m256i);
            let x = _mm256_xor_si256(v, qv);
            let lo = _mm256_and_si256(x, low);
            let hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low);
            let c8 = _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
            // Per 16-bit lane: low byte count + high byte count.
            let c16 = _mm256_add_epi16(
                _mm256_and_si256(c8, _mm256_set1_epi16(0xff)),
                _mm256_srli_epi16(c8, 8),
            );
            let over = _mm256_cmpgt_epi16(c16, kv);
            // Two mask bits per lane; keep one.
            let bytes = !(_mm256_movemask_epi8(over) as u32);
            let mut m = u64::from(_pext_u32(bytes, 0x5555_5555));
            let n = end - p;
            if n < 16 {
                m &= (1u64 << n) - 1;
            }
            each_bit(m, p, f);
            p += 16;
        }
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn filter_avx2(
        filt: &[u8],
        start: usize,
        end: usize,
        qf: u8,
        k: u32,
        f: &mut impl FnMut(usize),
    ) {
        let qv = _mm256_set1_epi8(qf as i8);
        let kv = _mm256_set1_epi8(k as i8);
        let low = _mm256_set1_epi8(0x0f);
        let lut = _mm256_setr_epi8(
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2,
            3, 3, 4,
        );
        let zero = _mm256_setzero_si256();
        let ptr = filt.as_ptr();
        let mut p = start;
        while p < end {
            let v = _mm256_loadu_si256(ptr.add(p) as *const __m256i);
            let x = _mm256_xor_si256(v, qv);
            let hit = if k == 0 {
                _mm256_cmpeq_epi8(x, zero)
            } else {
                let lo = _mm256_and_si256(x, low);
                let hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low);
                let cnt =
                    _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
                // cnt <= k  <=>  !(cnt > k); both are small non-negative.
                _mm256_xor_si256(_mm256_cmpgt_epi8(cnt, kv), _mm256_set1_epi8(-1))
            };
            let mut m = _mm256_movemask_epi8(hit) as u32 as u64;
            let n = end - p;
            if n < 32 {
                m &= (1u64 << n) - 1;
            }
            each_bit(m, p, f);
            p += 32;
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vpopcntdq,popcnt")]
    pub(super) unsafe fn flat_avx512(
        hashes: &[Hash256],
        q: &Hash256,
        radius: u32,
        base: u32,
        out: &mut Vec<(u32, u32)>,
    ) {
        let qv = _mm512_broadcast_i64x4(_mm256_loadu_si256(q.0.as_ptr() as *const __m256i));
        let rv = _mm512_set1_epi64(i64::from(radius));
        let ptr = hashes.as_ptr() as *const u64;
        let n = hashes.len();
        let mut i = 0;
        // Two hashes per register: popcount the four words of each, fold to lanes 0 and 4.
        while i + 4 <= n {
            let a = _mm512_popcnt_epi64(_mm512_xor_si512(
                _mm512_loadu_si512(ptr.add(i * 4) as *const _),
                qv,
            ));
            let b = _mm512_popcnt_epi64(_mm512_xor_si512(
                _mm512_loadu_si512(ptr.add(i * 4 + 8) as *const _),
                qv,
            ));
            let a = _mm512_add_epi64(a, _mm512_shuffle_epi32::<_MM_PERM_BADC>(a));
            let b = _mm512_add_epi64(b, _mm512_shuffle_epi32::<_MM_PERM_BADC>(b));
            let a = _mm512_add_epi64(a, _mm512_shuffle_i64x2::<0b10_11_00_01>(a, a));
            let b = _mm512_add_epi64(b, _mm512_shuffle_i64x2::<0b10_11_00_01>(b, b));
            let ma = _mm512_mask_cmple_epu64_mask(0x11, a, rv);
            let mb = _mm512_mask_cmple_epu64_mask(0x11, b, rv);
            if (ma | mb) != 0 {
                for j in 0..4 {
                    let d = hashes[i + j].distance(q);
                    if d <= radius {
                        out.push((base + (i + j) as u32, d));
                    }
                }
            }
            i += 4;
        }
        super::flat_portable(&hashes[i..], q, radius, base + i as u32, out);
    }

    #[target_feature(enable = "avx2,popcnt")]
    pub(super) unsafe fn flat_avx2(
        hashes: &[Hash256],
        q: &Hash256,
        radius: u32,
        base: u32,
        out: &mut Vec<(u32, u32)>,
    ) {
        let qv = _mm256_loadu_si256(q.0.as_ptr() as *const __m256i);
        let rv = _mm256_set1_epi64x(i64::from(radius));
        let low = _mm256_set1_epi8(0x0f);
        let lut = _mm256_setr_epi8(
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2,
            3, 3, 4,
        );
        let zero = _mm256_setzero_si256();
        let ptr = hashes.as_ptr() as *const __m256i;
        let count = |v: __m256i| -> __m256i {
            let x = _mm256_xor_si256(v, qv);
            let lo = _mm256_and_si256(x, low);
            let hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low);
            let c = _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
            _mm256_sad_epu8(c, zero)
        };
        let n = hashes.len();
        let mut i = 0;
        while i + 4 <= n {
            let a = count(_mm256_loadu_si256(ptr.add(i)));
            let b = count(_mm256_loadu_si256(ptr.add(i + 1)));
            let c = count(_mm256_loadu_si256(ptr.add(i + 2)));
            let d = count(_mm256_loadu_si256(ptr.add(i + 3)));
            // [a0+a1, b0+b1 | a2+a3, b2+b3] and the same for c, d.
            let ab = _mm256_add_epi64(_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b));
            let cd = _mm256_add_epi64(_mm256_unpacklo_epi64(c, d), _mm256_unpackhi_epi64(c, d));
            // [A, B | C, D]
            let t = _mm256_add_epi64(
                _mm256_permute2x128_si256::<0x20>(ab, cd),
                _mm256_permute2x128_si256::<0x31>(ab, cd),
            );
            let over = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(t, rv))) as u32;
            let mut hits = !over & 0xf;
            while hits != 0 {
                let j = hits.trailing_zeros() as usize;
                out.push((base + (i + j) as u32, hashes[i + j].distance(q)));
                hits &= hits - 1;
            }
            i += 4;
        }
        super::flat_portable(&hashes[i..], q, radius, base + i as u32, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = *seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }

    fn levels() -> Vec<SimdLevel> {
        [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512]
            .into_iter()
            .filter(|l| l.supported())
            .collect()
    }

    #[test]
    fn flat_scan_levels_agree() {
        let mut s = 7u64;
        let q = Hash256([rng(&mut s), rng(&mut s), rng(&mut s), rng(&mut s)]);
        // Hashes at every distance 0..=256 from q, in a length that is not a multiple of 4.
        let mut hashes = Vec::new();
        for d in 0..=256u32 {
            let mut h = q;
            let mut flipped = 0;
            while flipped < d {
                let bit = (rng(&mut s) % 256) as usize;
                let w = bit / 64;
                let m = 1u64 << (bit % 64);
                if (h.0[w] ^ q.0[w]) & m == 0 {
                    h.0[w] ^= m;
                    flipped += 1;
                }
            }
            assert_eq!(h.distance(&q), d);
            hashes.push(h);
        }
        for radius in [0, 1, 31, 32, 63, 128, 255, 256] {
            let mut want = Vec::new();
            flat_portable(&hashes, &q, radius, 5, &mut want);
            assert_eq!(want.len(), radius as usize + 1);
            for level in levels() {
                let mut got = Vec::new();
                flat_scan(level, &hashes, &q, radius, 5, &mut got);
                assert_eq!(got, want, "level {level:?} radius {radius}");
            }
        }
    }

    #[test]
    fn filter16_scan_levels_agree() {
        let mut s = 13u64;
        let mut filt: Vec<u16> = (0..300).map(|_| rng(&mut s) as u16).collect();
        filt.extend([0u16; FILTER_PAD / 2]);
        let qf = 0x5a3c;
        for (start, end) in [(0, 0), (0, 1), (3, 40), (0, 32), (1, 130), (17, 300)] {
            for k in 0..16 {
                let mut want = Vec::new();
                filter16_portable(&filt, start, end, qf, k, &mut |p| want.push(p));
                assert!(want.iter().all(|&p| (filt[p] ^ qf).count_ones() <= k));
                let check = |got: Vec<usize>| assert_eq!(got, want, "{start}..{end} k={k}");
                if SimdLevel::Avx2.supported() {
                    let mut got = Vec::new();
                    unsafe { filter16_scan::<1>(&filt, start, end, qf, k, &mut |p| got.push(p)) };
                    check(got);
                }
                if SimdLevel::Avx512.supported() {
                    let mut got = Vec::new();
                    unsafe { filter16_scan::<2>(&filt, start, end, qf, k, &mut |p| got.push(p)) };
                    check(got);
                }
            }
        }
    }

    #[test]
    fn filter_scan_levels_agree() {
        let mut s = 11u64;
        let mut filt: Vec<u8> = (0..300).map(|_| rng(&mut s) as u8).collect();
        filt.extend([0u8; FILTER_PAD]);
        let qf = 0x5a;
        for (start, end) in [(0, 0), (0, 1), (3, 40), (0, 64), (1, 130), (17, 300)] {
            for k in 0..8 {
                let mut want = Vec::new();
                filter_portable(&filt, start, end, qf, k, &mut |p| want.push(p));
                assert!(want.iter().all(|&p| (filt[p] ^ qf).count_ones() <= k));
                let check = |got: Vec<usize>| assert_eq!(got, want, "{start}..{end} k={k}");
                if SimdLevel::Avx2.supported() {
                    let mut got = Vec::new();
                    unsafe { filter_scan::<1>(&filt, start, end, qf, k, &mut |p| got.push(p)) };
                    check(got);
                }
                if SimdLevel::Avx512.supported() {
                    let mut got = Vec::new();
                    unsafe { filter_scan::<2>(&filt, start, end, qf, k, &mut |p| got.push(p)) };
                    check(got);
                }
            }
        }
    }
}
