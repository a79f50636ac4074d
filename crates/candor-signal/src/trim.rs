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
    let mut b = Border {
        top: side_depth(img, Side::Top),
        bottom: side_depth(img, Side::Bottom),
        left: side_depth(img, Side::Left),
        right: side_depth(img, Side::Right),
    };
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
}
