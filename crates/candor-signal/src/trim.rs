//! Uniform borders: frames of near-constant colour added around an image (often to evade
//! filters). Finding one gives an extra signal, the PDQ of the image inside the frame; the
//! reference hash is always kept as it is.

use crate::decode::{DecodedImage, PixelData};

/// Pixels removed from each side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Border {
    pub top: u32,
    pub bottom: u32,
    pub left: u32,
    pub right: u32,
}

/// A channel may differ from the border colour by this much and still count as border
/// (room for JPEG noise next to a flat frame).
const TOLERANCE: i32 = 40;
/// A border line may have this fraction of pixels off the border colour (JPEG ringing, specks).
const OUTLIER_FRACTION: f64 = 0.03;
/// No side is trimmed past this fraction of its dimension.
const MAX_SIDE_FRACTION: f64 = 0.40;
/// What is left must be at least this big on each side, in pixels.
const MIN_REMAINING: u32 = 16;

#[derive(Clone, Copy)]
enum Side {
    Top,
    Bottom,
    Left,
    Right,
}

/// Finds a uniform border. `None` when there is none worth trimming: no side has a frame of at
/// least `max(2, 1% of the dimension)` pixels, or the inside would be too small.
pub fn find_border(img: &DecodedImage) -> Option<Border> {
    let (w, h) = (img.width, img.height);
    if w < 3 * MIN_REMAINING || h < 3 * MIN_REMAINING {
        return None;
    }
    let b = Border {
        top: side_depth(img, Side::Top),
        bottom: side_depth(img, Side::Bottom),
        left: side_depth(img, Side::Left),
        right: side_depth(img, Side::Right),
    };
    finish_border(w, h, b)
}

/// The thresholds applied to the four side depths.
fn finish_border(w: u32, h: u32, mut b: Border) -> Option<Border> {
    let min_v = 2.max(h / 100);
    let min_h = 2.max(w / 100);
    if b.top < min_v {
        b.top = 0;
    }
    if b.bottom < min_v {
        b.bottom = 0;
    }
    if b.left < min_h {
        b.left = 0;
    }
    if b.right < min_h {
        b.right = 0;
    }
    if b == Border::default() {
        return None;
    }
    let inner_w = w.checked_sub(b.left + b.right)?;
    let inner_h = h.checked_sub(b.top + b.bottom)?;
    if inner_w < MIN_REMAINING || inner_h < MIN_REMAINING {
        return None;
    }
    Some(b)
}

/// How many lines from `side` inward are uniform and of the outermost line's colour; 0 when the
/// flat run goes past [`MAX_SIDE_FRACTION`].
fn side_depth(img: &DecodedImage, side: Side) -> u32 {
    let (w, h) = (img.width, img.height);
    let (lines, len) = match side {
        Side::Top | Side::Bottom => (h, w),
        Side::Left | Side::Right => (w, h),
    };
    let max_depth = (lines as f64 * MAX_SIDE_FRACTION) as u32;
    let pixel = |t: u32, i: u32| -> [u8; 3] {
        match side {
            Side::Top => img.rgb(i, t),
            Side::Bottom => img.rgb(i, h - 1 - t),
            Side::Left => img.rgb(t, i),
            Side::Right => img.rgb(w - 1 - t, i),
        }
    };
    let max_outliers = (len as f64 * OUTLIER_FRACTION) as u32;
    // The border colour: the per-channel median of the outermost line.
    let reference = {
        let mut ch = [Vec::with_capacity(len as usize), Vec::new(), Vec::new()];
        for i in 0..len {
            let p = pixel(0, i);
            for c in 0..3 {
                ch[c].push(p[c]);
            }
        }
        let mut m = [0u8; 3];
        for c in 0..3 {
            let mid = ch[c].len() / 2;
            m[c] = *ch[c].select_nth_unstable(mid).1;
        }
        m
    };
    let mut depth = 0;
    while depth < max_depth {
        let mut outliers = 0;
        for i in 0..len {
            let p = pixel(depth, i);
            let off = (0..3).any(|c| (p[c] as i32 - reference[c] as i32).abs() > TOLERANCE);
            if off {
                outliers += 1;
                if outliers > max_outliers {
                    return depth;
                }
            }
        }
        depth += 1;
    }
    // Flat past the limit: a large flat area, not a frame around something.
    0
}

fn median3(line: &[[u8; 3]]) -> [u8; 3] {
    let mut m = [0u8; 3];
    for (c, m) in m.iter_mut().enumerate() {
        let mut ch: Vec<u8> = line.iter().map(|p| p[c]).collect();
        let mid = ch.len() / 2;
        *m = *ch.select_nth_unstable(mid).1;
    }
    m
}

#[inline]
fn off(p: [u8; 3], reference: [u8; 3]) -> bool {
    (0..3).any(|c| (p[c] as i32 - reference[c] as i32).abs() > TOLERANCE)
}

/// Pixel `x` of a row of RGB or grey.
#[inline]
fn row_pixel(row: &crate::Pixels<'_>, x: usize) -> [u8; 3] {
    match row {
        crate::Pixels::Rgb8(p) => [p[3 * x], p[3 * x + 1], p[3 * x + 2]],
        crate::Pixels::Grey8(p) => [p[x]; 3],
        crate::Pixels::Luma(p) => [p[x].clamp(0.0, 255.0) as u8; 3],
    }
}

/// [`find_border`] over an image seen one row at a time, in two passes over the rows: the
/// first ([`EdgeScan::Edges`]) collects the outermost lines, the second ([`EdgeScan::Depths`])
/// measures how far each side's colour runs inward. Same result as [`find_border`] on the same
/// pixels; memory is the four edges plus a counter per column within 40 % of either side.
pub(crate) enum EdgeScan {
    Edges {
        w: usize,
        h: usize,
        top: Vec<[u8; 3]>,
        bottom: Vec<[u8; 3]>,
        left: Vec<[u8; 3]>,
        right: Vec<[u8; 3]>,
    },
    Depths(Box<DepthScan>),
}

pub(crate) struct DepthScan {
    w: usize,
    h: usize,
    reference: [[u8; 3]; 4],
    max_depth_v: usize,
    max_out_row: usize,
    max_out_col: usize,
    row: usize,
    top: Option<usize>,
    bottom_run: usize,
    left_out: Vec<u32>,
    right_out: Vec<u32>,
    left_stop: usize,
    right_stop: usize,
}

impl EdgeScan {
    /// `None` when the image is too small to trim.
    pub(crate) fn new(w: usize, h: usize) -> Option<EdgeScan> {
        if w < 3 * MIN_REMAINING as usize || h < 3 * MIN_REMAINING as usize {
            return None;
        }
        Some(EdgeScan::Edges {
            w,
            h,
            top: Vec::with_capacity(w),
            bottom: Vec::with_capacity(w),
            left: Vec::with_capacity(h),
            right: Vec::with_capacity(h),
        })
    }

    pub(crate) fn push_row(&mut self, row: crate::Pixels<'_>) {
        match self {
            EdgeScan::Edges {
                w,
                h,
                top,
                bottom,
                left,
                right,
            } => {
                let (w, y) = (*w, left.len());
                if y >= *h {
                    return;
                }
                if y == 0 {
                    top.extend((0..w).map(|x| row_pixel(&row, x)));
                }
                if y + 1 == *h {
                    bottom.extend((0..w).map(|x| row_pixel(&row, x)));
                }
                left.push(row_pixel(&row, 0));
                right.push(row_pixel(&row, w - 1));
            }
            EdgeScan::Depths(d) => d.push_row(row),
        }
    }

    /// Ends the first pass: the next rows pushed are the second pass.
    pub(crate) fn second_pass(&mut self) {
        if let EdgeScan::Edges {
            w,
            h,
            top,
            bottom,
            left,
            right,
        } = self
        {
            let (w, h) = (*w, *h);
            let max_depth_h = (w as f64 * MAX_SIDE_FRACTION) as usize;
            *self = EdgeScan::Depths(Box::new(DepthScan {
                w,
                h,
                reference: [median3(top), median3(bottom), median3(left), median3(right)],
                max_depth_v: (h as f64 * MAX_SIDE_FRACTION) as usize,
                max_out_row: (w as f64 * OUTLIER_FRACTION) as usize,
                max_out_col: (h as f64 * OUTLIER_FRACTION) as usize,
                row: 0,
                top: None,
                bottom_run: 0,
                left_out: vec![0; max_depth_h],
                right_out: vec![0; max_depth_h],
                left_stop: max_depth_h,
                right_stop: max_depth_h,
            }));
        }
    }

    /// The border, after both passes.
    pub(crate) fn finish(self) -> Option<Border> {
        match self {
            EdgeScan::Depths(d) => d.finish(),
            EdgeScan::Edges { .. } => None,
        }
    }
}

impl DepthScan {
    fn push_row(&mut self, row: crate::Pixels<'_>) {
        // One copy of the scan per pixel layout, so the pixel access is inlined.
        match row {
            crate::Pixels::Rgb8(p) => self.scan(|x| [p[3 * x], p[3 * x + 1], p[3 * x + 2]]),
            crate::Pixels::Grey8(p) => self.scan(|x| [p[x]; 3]),
            crate::Pixels::Luma(p) => self.scan(|x| [p[x].clamp(0.0, 255.0) as u8; 3]),
        }
    }

    #[inline(always)]
    fn scan(&mut self, pixel: impl Fn(usize) -> [u8; 3]) {
        if self.row >= self.h {
            return;
        }
        let w = self.w;
        let [top_ref, bottom_ref, left_ref, right_ref] = self.reference;
        if self.top.is_none() {
            if self.row >= self.max_depth_v {
                self.top = Some(0);
            } else {
                let outliers = (0..w).filter(|&x| off(pixel(x), top_ref)).count();
                if outliers > self.max_out_row {
                    self.top = Some(self.row);
                }
            }
        }
        // Only the last rows can be a bottom frame: a run reaching 40 % counts as none, so rows
        // above that window cannot change the result.
        if self.row + self.max_depth_v + 1 >= self.h {
            let outliers = (0..w).filter(|&x| off(pixel(x), bottom_ref)).count();
            if outliers > self.max_out_row {
                self.bottom_run = 0;
            } else {
                self.bottom_run += 1;
            }
        }
        // Columns past the first one over the outlier budget cannot change the result.
        for t in 0..self.left_stop {
            if off(pixel(t), left_ref) {
                self.left_out[t] += 1;
                if self.left_out[t] as usize > self.max_out_col {
                    self.left_stop = t + 1;
                    break;
                }
            }
        }
        for t in 0..self.right_stop {
            if off(pixel(w - 1 - t), right_ref) {
                self.right_out[t] += 1;
                if self.right_out[t] as usize > self.max_out_col {
                    self.right_stop = t + 1;
                    break;
                }
            }
        }
        self.row += 1;
    }

    fn finish(self) -> Option<Border> {
        // A run that reaches 40 % of a side is a flat area, not a frame: depth 0.
        let top = self.top.unwrap_or(0);
        let bottom = if self.bottom_run >= self.max_depth_v {
            0
        } else {
            self.bottom_run
        };
        let side = |out: &[u32]| {
            out.iter()
                .position(|&n| n as usize > self.max_out_col)
                .unwrap_or(0)
        };
        let b = Border {
            top: top as u32,
            bottom: bottom as u32,
            left: side(&self.left_out) as u32,
            right: side(&self.right_out) as u32,
        };
        finish_border(self.w as u32, self.h as u32, b)
    }
}

/// The image inside `border`.
pub fn crop(img: &DecodedImage, b: Border) -> DecodedImage {
    let (w, h) = (img.width as usize, img.height as usize);
    let (x0, x1) = (b.left as usize, w - b.right as usize);
    let (y0, y1) = (b.top as usize, h - b.bottom as usize);
    let data = match &img.data {
        PixelData::Rgb8(p) => PixelData::Rgb8(
            (y0..y1)
                .flat_map(|y| p[(y * w + x0) * 3..(y * w + x1) * 3].iter().copied())
                .collect(),
        ),
        PixelData::Grey8(p) => PixelData::Grey8(
            (y0..y1)
                .flat_map(|y| p[y * w + x0..y * w + x1].iter().copied())
                .collect(),
        ),
    };
    DecodedImage {
        width: (x1 - x0) as u32,
        height: (y1 - y0) as u32,
        format: img.format,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> DecodedImage {
        let mut data = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                data.extend_from_slice(&f(x, y));
            }
        }
        DecodedImage {
            width: w,
            height: h,
            format: image::ImageFormat::Png,
            data: PixelData::Rgb8(data),
        }
    }

    fn content(x: u32, y: u32) -> [u8; 3] {
        [
            (x * 7 % 200) as u8 + 20,
            (y * 5 % 180) as u8 + 30,
            ((x + y) % 150) as u8 + 50,
        ]
    }

    #[test]
    fn finds_a_white_frame() {
        let img = image(200, 100, |x, y| {
            if (20..180).contains(&x) && (10..90).contains(&y) {
                content(x, y)
            } else {
                [255, 255, 255]
            }
        });
        let b = find_border(&img).unwrap();
        assert_eq!(
            b,
            Border {
                top: 10,
                bottom: 10,
                left: 20,
                right: 20
            }
        );
        let inner = crop(&img, b);
        assert_eq!((inner.width, inner.height), (160, 80));
        assert_eq!(inner.rgb(0, 0), content(20, 10));
    }

    #[test]
    fn finds_a_noisy_black_frame_on_some_sides() {
        let img = image(120, 120, |x, y| {
            if y < 12 || x >= 108 {
                let n = ((x * 13 + y * 7) % 17) as u8; // JPEG-like noise
                [n, n / 2, n]
            } else {
                content(x, y)
            }
        });
        let b = find_border(&img).unwrap();
        assert_eq!((b.top, b.right, b.bottom, b.left), (12, 12, 0, 0));
    }

    #[test]
    fn no_frame_no_trim() {
        let img = image(100, 100, content);
        assert_eq!(find_border(&img), None);
        let flat = image(100, 100, |_, _| [9, 9, 9]);
        assert_eq!(find_border(&flat), None, "a flat image has nothing inside");
        let tiny = image(20, 20, |_, _| [255, 255, 255]);
        assert_eq!(find_border(&tiny), None);
    }

    fn streamed(img: &DecodedImage) -> Option<Border> {
        let mut scan = EdgeScan::new(img.width as usize, img.height as usize)?;
        let w = img.width as usize;
        let rows = |scan: &mut EdgeScan| match &img.data {
            PixelData::Rgb8(p) => p
                .chunks_exact(w * 3)
                .for_each(|r| scan.push_row(crate::Pixels::Rgb8(r))),
            PixelData::Grey8(p) => p
                .chunks_exact(w)
                .for_each(|r| scan.push_row(crate::Pixels::Grey8(r))),
        };
        rows(&mut scan);
        scan.second_pass();
        rows(&mut scan);
        scan.finish()
    }

    #[test]
    fn streamed_scan_equals_find_border() {
        let frames = [
            image(200, 100, |x, y| {
                if (20..180).contains(&x) && (10..90).contains(&y) {
                    content(x, y)
                } else {
                    [255, 255, 255]
                }
            }),
            image(120, 120, |x, y| {
                if y < 12 || x >= 108 {
                    let n = ((x * 13 + y * 7) % 17) as u8;
                    [n, n / 2, n]
                } else {
                    content(x, y)
                }
            }),
            image(150, 90, |x, y| {
                if y >= 70 || x < 3 {
                    [0, 0, 0]
                } else {
                    content(x, y)
                }
            }),
            image(100, 100, content),
            image(100, 100, |_, _| [9, 9, 9]),
            image(20, 20, |_, _| [255, 255, 255]),
            image(
                100,
                60,
                |x, _| if x < 50 { [0, 0, 0] } else { [255, 255, 255] },
            ),
        ];
        for (i, img) in frames.iter().enumerate() {
            assert_eq!(streamed(img), find_border(img), "image {i}");
        }
    }
}
