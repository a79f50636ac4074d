//! The robustness set: images of our own making (procedural: gradients, low-frequency waves,
//! shapes and grain, seeded), each edited the ways people alter content to slip past matching.
//! Shared by `tests/robustness.rs` (asserts the targets) and `examples/robustness.rs` (prints the
//! table for BENCHMARKS.md).

use candor_signal::decode::{DecodedImage, PixelData};
use candor_signal::{hash_decoded, ImageSignals, PdqHash};
use image::{imageops, ImageFormat, RgbImage};

pub const THRESHOLD: u32 = 31;

pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Scramble the seed: splitmix streams of states `k·γ` apart are the same stream shifted.
        let mut z = seed ^ 0x5851_f42d_4c95_7f2d;
        z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        z = (z ^ (z >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        Rng(z ^ (z >> 33))
    }
    pub fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn f(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.f()
    }
}

/// One procedural picture.
pub fn picture(seed: u64, w: u32, h: u32) -> RgbImage {
    let mut rng = Rng::new(seed);
    let c0: [f32; 3] = std::array::from_fn(|_| rng.range(0.0, 255.0));
    let c1: [f32; 3] = std::array::from_fn(|_| rng.range(0.0, 255.0));
    let angle = rng.range(0.0, std::f32::consts::TAU);
    let (dx, dy) = (angle.cos(), angle.sin());
    let waves: Vec<(f32, f32, f32, [f32; 3])> = (0..4)
        .map(|_| {
            (
                rng.range(0.5, 6.0),
                rng.range(0.5, 6.0),
                rng.range(0.0, 6.3),
                std::array::from_fn(|_| rng.range(-45.0, 45.0)),
            )
        })
        .collect();
    struct Shape {
        ellipse: bool,
        cx: f32,
        cy: f32,
        rx: f32,
        ry: f32,
        color: [f32; 3],
        alpha: f32,
    }
    let shapes: Vec<Shape> = (0..(16 + rng.next() % 17))
        .map(|_| Shape {
            ellipse: rng.next().is_multiple_of(2),
            cx: rng.f(),
            cy: rng.f(),
            rx: rng.range(0.02, 0.3),
            ry: rng.range(0.02, 0.3),
            color: std::array::from_fn(|_| rng.range(0.0, 255.0)),
            alpha: rng.range(0.6, 1.0),
        })
        .collect();
    let mut img = RgbImage::new(w, h);
    for (x, y, p) in img.enumerate_pixels_mut() {
        let (u, v) = (x as f32 / w as f32, y as f32 / h as f32);
        // A soft gradient only: a strong one would dominate the low frequencies of every picture.
        let t = 0.5 + 0.25 * ((u - 0.5) * dx + (v - 0.5) * dy);
        let mut c: [f32; 3] = std::array::from_fn(|i| c0[i] * (1.0 - t) + c1[i] * t);
        for (fu, fv, ph, amp) in &waves {
            let s = (u * fu * std::f32::consts::TAU + ph).sin()
                * (v * fv * std::f32::consts::TAU + ph).cos();
            for (c, a) in c.iter_mut().zip(amp) {
                *c += a * s;
            }
        }
        for s in &shapes {
            let (ddx, ddy) = ((u - s.cx) / s.rx, (v - s.cy) / s.ry);
            let inside = if s.ellipse {
                ddx * ddx + ddy * ddy <= 1.0
            } else {
                ddx.abs() <= 1.0 && ddy.abs() <= 1.0
            };
            if inside {
                for (c, sc) in c.iter_mut().zip(&s.color) {
                    *c = *c * (1.0 - s.alpha) + sc * s.alpha;
                }
            }
        }
        let grain = (rng.next() % 17) as f32 - 8.0;
        *p = image::Rgb(c.map(|v| (v + grain).clamp(0.0, 255.0) as u8));
    }
    img
}

fn bordered(img: &RgbImage, color: [u8; 3]) -> RgbImage {
    let (w, h) = img.dimensions();
    let (bx, by) = (w / 10, h / 10);
    let mut out = RgbImage::from_pixel(w + 2 * bx, h + 2 * by, image::Rgb(color));
    imageops::replace(&mut out, img, bx as i64, by as i64);
    out
}

fn jpeg_round_trip(img: &RgbImage, quality: u8) -> DecodedImage {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(img)
        .expect("encode");
    candor_signal::decode::decode(&bytes, &Default::default(), false).expect("decode")
}

fn decoded(img: RgbImage) -> DecodedImage {
    DecodedImage {
        width: img.width(),
        height: img.height(),
        format: ImageFormat::Png,
        data: PixelData::Rgb8(img.into_raw()),
    }
}

/// The edits, by name; `true` for those the ≥ 95% target applies to.
pub const EDITS: [(&str, bool); 13] = [
    ("mirror", true),
    ("flip", true),
    ("rotate 90", true),
    ("squash x to 70%", true),
    ("squash y to 70%", true),
    ("10% white border", true),
    ("10% black border", true),
    ("blur (σ 2)", true),
    ("grey", true),
    ("resize to 50%", true),
    ("crop 5% each side", false),
    ("JPEG quality 30", true),
    ("mirror + white border", true),
];

pub fn edit(name: &str, img: &RgbImage) -> DecodedImage {
    let (w, h) = img.dimensions();
    let tri = imageops::FilterType::Triangle;
    match name {
        "mirror" => decoded(imageops::flip_horizontal(img)),
        "flip" => decoded(imageops::flip_vertical(img)),
        "rotate 90" => decoded(imageops::rotate90(img)),
        "squash x to 70%" => decoded(imageops::resize(img, w * 7 / 10, h, tri)),
        "squash y to 70%" => decoded(imageops::resize(img, w, h * 7 / 10, tri)),
        "10% white border" => decoded(bordered(img, [255, 255, 255])),
        "10% black border" => decoded(bordered(img, [0, 0, 0])),
        "blur (σ 2)" => decoded(imageops::blur(img, 2.0)),
        "grey" => {
            let g = imageops::grayscale(img);
            decoded(image::DynamicImage::ImageLuma8(g).to_rgb8())
        }
        "resize to 50%" => decoded(imageops::resize(img, w / 2, h / 2, tri)),
        "crop 5% each side" => {
            let (cx, cy) = (w / 20, h / 20);
            decoded(imageops::crop_imm(img, cx, cy, w - 2 * cx, h - 2 * cy).to_image())
        }
        "JPEG quality 30" => jpeg_round_trip(img, 30),
        "mirror + white border" => {
            decoded(bordered(&imageops::flip_horizontal(img), [255, 255, 255]))
        }
        other => panic!("unknown edit {other}"),
    }
}

/// Every hash Candor derives from one query image.
pub fn candor_variants(s: &ImageSignals) -> Vec<PdqHash> {
    let mut v = s.dihedral.to_vec();
    if let Some(t) = &s.trimmed {
        v.extend_from_slice(&t.dihedral);
    }
    v
}

pub struct EditResult {
    pub name: &'static str,
    pub targeted: bool,
    pub reference_caught: usize,
    pub candor_caught: usize,
    pub false_matches: usize,
    pub total: usize,
    /// Median over queries of the smallest distance of any Candor variant to the original.
    pub median_distance: u32,
}

pub struct Report {
    pub images: usize,
    pub edits: Vec<EditResult>,
    /// Pairs of different originals within the threshold of each other.
    pub original_collisions: usize,
    /// The smallest distance between two different originals in any orientation.
    pub closest: u32,
}

pub fn run(images: usize, w: u32, h: u32) -> Report {
    let originals: Vec<RgbImage> = (0..images as u64).map(|i| picture(i + 1, w, h)).collect();
    // The bank: the reference hash of each original (as a list provider would publish it).
    let bank: Vec<PdqHash> = originals
        .iter()
        .map(|o| hash_decoded(&decoded(o.clone()), false).pdq.hash)
        .collect();
    let mut original_collisions = 0;
    let mut closest = u32::MAX;
    let dihedrals: Vec<[PdqHash; 8]> = originals
        .iter()
        .map(|o| hash_decoded(&decoded(o.clone()), false).dihedral)
        .collect();
    for i in 0..bank.len() {
        for j in i + 1..bank.len() {
            if bank[i].distance(&bank[j]) <= THRESHOLD {
                original_collisions += 1;
            }
            let d = dihedrals[i]
                .iter()
                .map(|h| h.distance(&bank[j]))
                .min()
                .unwrap();
            closest = closest.min(d);
        }
    }
    let mut edits = Vec::new();
    for (name, targeted) in EDITS {
        let mut r = EditResult {
            name,
            targeted,
            reference_caught: 0,
            candor_caught: 0,
            false_matches: 0,
            total: 0,
            median_distance: 0,
        };
        let mut best = Vec::new();
        for (i, o) in originals.iter().enumerate() {
            let q = hash_decoded(&edit(name, o), true);
            let variants = candor_variants(&q);
            r.total += 1;
            if q.pdq.hash.distance(&bank[i]) <= THRESHOLD {
                r.reference_caught += 1;
            }
            let d = variants.iter().map(|v| v.distance(&bank[i])).min().unwrap();
            best.push(d);
            if d <= THRESHOLD {
                r.candor_caught += 1;
            }
            for (j, b) in bank.iter().enumerate() {
                if j != i && variants.iter().any(|v| v.distance(b) <= THRESHOLD) {
                    r.false_matches += 1;
                }
            }
        }
        best.sort_unstable();
        r.median_distance = best[best.len() / 2];
        edits.push(r);
    }
    Report {
        images,
        edits,
        original_collisions,
        closest,
    }
}

impl Report {
    pub fn markdown(&self) -> String {
        let mut s = "| edit | reference PDQ alone | Candor (dihedral + trimmed) | median distance | false matches |\n\
                     |---|---:|---:|---:|---:|\n"
            .to_string();
        for e in &self.edits {
            let pct = |n: usize| 100.0 * n as f64 / e.total as f64;
            s += &format!(
                "| {}{} | {:.1}% | {:.1}% | {} | {} |\n",
                e.name,
                if e.targeted {
                    ""
                } else {
                    " (reported, no target)"
                },
                pct(e.reference_caught),
                pct(e.candor_caught),
                e.median_distance,
                e.false_matches
            );
        }
        s += &format!(
            "\n{} originals; a match is distance ≤ {THRESHOLD} to the original's reference hash; false matches count \
             (edited image, other original) pairs within the threshold over {} comparisons per edit; pairs of \
             different originals within the threshold: {}; closest two different originals in any \
             orientation: {} bits.\n",
            self.images,
            self.images * (self.images - 1),
            self.original_collisions,
            self.closest
        );
        s
    }
}
