//! Bytes to pixels, with limits, converted as the reference family (Pillow's `convert("RGB")`) does.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::SignalError;

/// Bounds on what a decoder may take. Checked before any pixel buffer is allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest accepted encoded size in bytes.
    pub max_bytes: u64,
    /// Largest accepted width × height.
    pub max_pixels: u64,
    /// Largest accepted width or height.
    pub max_dimension: u32,
    /// Largest allocation a decoder may make, in bytes.
    pub max_alloc: u64,
    /// Largest width × height hashed at all. Between `max_pixels` and this, an image is still
    /// hashed — a JPEG at a reduced DCT scale, a PNG streamed row by row, other formats decoded
    /// within `max_alloc` — so padding or upscaling past `max_pixels` does not evade matching.
    /// Past it the image is [`SignalError::Unhashable`]: far beyond what viewers render, or a
    /// decompression bomb. It bounds the time an image can take (decoding and hashing are linear
    /// in pixels). Default 2³⁰ (1.07 gigapixels, 16× a 64 MP `max_pixels`).
    pub max_stream_pixels: u64,
    /// Largest width or height hashed at all (see `max_stream_pixels`). Default 2¹⁷ = 131,072.
    pub max_stream_dimension: u32,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_bytes: 256 << 20,
            max_pixels: 100_000_000,
            max_dimension: 65_535,
            max_alloc: 1 << 30,
            max_stream_pixels: 1 << 30,
            max_stream_dimension: 1 << 17,
        }
    }
}

/// Decoded pixels: RGB, or grey where the source is grey (hashed as R = G = B).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PixelData {
    Rgb8(Vec<u8>),
    Grey8(Vec<u8>),
}

/// A decoded image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedImage {
    pub width: u32,
    pub height: u32,
    pub format: ImageFormat,
    pub data: PixelData,
}

impl DecodedImage {
    /// The pixels in the form [`crate::PdqHasher`] takes.
    pub fn pixels(&self) -> crate::Pixels<'_> {
        match &self.data {
            PixelData::Rgb8(p) => crate::Pixels::Rgb8(p),
            PixelData::Grey8(p) => crate::Pixels::Grey8(p),
        }
    }

    /// The colour of pixel (x, y).
    pub fn rgb(&self, x: u32, y: u32) -> [u8; 3] {
        let i = y as usize * self.width as usize + x as usize;
        match &self.data {
            PixelData::Rgb8(p) => [p[3 * i], p[3 * i + 1], p[3 * i + 2]],
            PixelData::Grey8(p) => [p[i]; 3],
        }
    }
}

/// The formats Candor decodes, by sniffing the content (never the file name).
pub fn sniff_format(bytes: &[u8]) -> Option<ImageFormat> {
    let f = image::guess_format(bytes).ok()?;
    match f {
        ImageFormat::Jpeg
        | ImageFormat::Png
        | ImageFormat::Gif
        | ImageFormat::WebP
        | ImageFormat::Bmp
        | ImageFormat::Tiff => Some(f),
        _ => None,
    }
}

/// Decodes an image (JPEG, PNG, GIF first frame, WebP, BMP, TIFF) within `limits`.
///
/// Colour conversion follows Pillow's `convert("RGB")`, which is what python-threatexchange and
/// HMA hash: grey is replicated, alpha is dropped (not composited), palettes are expanded,
/// 16-bit RGB keeps the high byte, 16-bit grey saturates at 255 (Pillow's `I;16` → `RGB`).
/// With `exif_orient`, the EXIF orientation is applied first (the reference does not).
///
/// Images over `max_pixels` / `max_dimension` are refused here ([`SignalError::TooLarge`]):
/// this is the decode into memory. [`crate::hash_image_bytes`] hashes them anyway, within
/// bounded memory (see [`DecodeLimits::max_stream_pixels`]). Truncated files (JPEG, PNG) are
/// decoded as far as they go and the rest filled flat, as browsers show them.
pub fn decode(
    bytes: &[u8],
    limits: &DecodeLimits,
    exif_orient: bool,
) -> Result<DecodedImage, SignalError> {
    decode_full(bytes, limits, exif_orient).map(|d| d.image)
}

/// A decode within the limits, and how complete the file was.
pub(crate) struct FullDecode {
    pub image: DecodedImage,
    /// When the file ended early: how many rows came from it (the rest is the flat fill).
    pub truncated: Option<crate::bounded::Truncated>,
}

/// [`decode`], telling whether the file was truncated.
///
/// A truncated file is decoded as far as it goes, as browsers show it: the rows that exist,
/// then a flat mid-grey fill (zune-jpeg's own fill for baseline JPEG; progressive JPEGs cut in
/// a later scan are whole at a lower quality). PDQ ignores the colour of a full-width flat fill
/// — its DCT starts at frequency 1 — so any flat colour hashes alike.
pub(crate) fn decode_full(
    bytes: &[u8],
    limits: &DecodeLimits,
    exif_orient: bool,
) -> Result<FullDecode, SignalError> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(SignalError::TooLarge(format!(
            "{} bytes is over the limit of {} bytes",
            bytes.len(),
            limits.max_bytes
        )));
    }
    let format = sniff_format(bytes).ok_or(SignalError::NotAnImage)?;
    let truncated_jpeg = format == ImageFormat::Jpeg && jpeg_is_truncated(bytes);
    let whole = |image: DecodedImage| {
        let truncated = truncated_jpeg.then(|| crate::bounded::Truncated {
            rows_decoded: Some(decoded_rows(&image)),
            rows: image.height,
        });
        FullDecode { image, truncated }
    };
    match decode_image(bytes, format, limits, exif_orient) {
        Ok(image) => Ok(whole(image)),
        Err(SignalError::Decode(m)) if format == ImageFormat::Png => {
            // A PNG cut (or corrupted) in its pixel data: the rows before the damage.
            match crate::bounded::png_partial(bytes, limits) {
                Ok(Some(d)) => Ok(d),
                _ => Err(SignalError::Decode(m)),
            }
        }
        Err(e) => Err(e),
    }
}

/// Rows above the flat fill of a truncated JPEG (all channels exactly 128 in whole rows).
fn decoded_rows(img: &DecodedImage) -> u32 {
    let (w, h) = (img.width as usize, img.height as usize);
    let (px, ch) = match &img.data {
        PixelData::Rgb8(p) => (p, 3),
        PixelData::Grey8(p) => (p, 1),
    };
    let mut rows = h;
    while rows > 0
        && px[(rows - 1) * w * ch..rows * w * ch]
            .iter()
            .all(|&v| v == 128)
    {
        rows -= 1;
    }
    rows as u32
}

fn decode_image(
    bytes: &[u8],
    format: ImageFormat,
    limits: &DecodeLimits,
    exif_orient: bool,
) -> Result<DecodedImage, SignalError> {
    if format == ImageFormat::Jpeg && !exif_orient {
        #[cfg(feature = "turbojpeg")]
        if let Some(img) = turbo::decode(bytes, limits)? {
            return Ok(img);
        }
        if let Some(img) = decode_jpeg(bytes, limits)? {
            return Ok(img);
        }
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_dimension);
    image_limits.max_image_height = Some(limits.max_dimension);
    image_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(image_limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| map_image_error(e, format))?;
    let (w, h) = decoder.dimensions();
    // One byte a pixel here: the decoder's own allocation limit covers the rest.
    check_limits(format, w as usize, h as usize, 1, limits)?;
    let orientation = if exif_orient {
        decoder.orientation().ok()
    } else {
        None
    };
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| map_image_error(e, format))?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    let (width, height) = (img.width(), img.height());
    let data = to_reference_pixels(img);
    Ok(DecodedImage {
        width,
        height,
        format,
        data,
    })
}

thread_local! {
    /// A pixel buffer kept per thread between images: decoding into memory that is already
    /// mapped saves zeroing and page faults on every image.
    static PIXEL_POOL: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Hands a decoded image's buffer back for the next decode on this thread.
pub fn recycle(img: DecodedImage) {
    let buf = match img.data {
        PixelData::Rgb8(b) | PixelData::Grey8(b) => b,
    };
    PIXEL_POOL.with(|p| {
        let mut pool = p.borrow_mut();
        if buf.capacity() > pool.capacity() {
            *pool = buf;
        }
    });
}

/// Takes the per-thread pixel buffer, sized to `size` (grown, never re-zeroed).
fn pooled_buffer(size: usize) -> Vec<u8> {
    let mut buf = PIXEL_POOL.with(|p| std::mem::take(&mut *p.borrow_mut()));
    if buf.len() < size {
        buf.resize(size, 0);
    } else {
        buf.truncate(size);
    }
    buf
}

/// Checks an image's dimensions and its pixel buffer (`channels` bytes a pixel) against the
/// limits, before anything is allocated for it.
pub(crate) fn check_limits(
    format: ImageFormat,
    w: usize,
    h: usize,
    channels: usize,
    limits: &DecodeLimits,
) -> Result<(), SignalError> {
    if w == 0 || h == 0 {
        return Err(SignalError::Decode(format!(
            "{format:?} image has no pixels ({w}×{h})"
        )));
    }
    if w > limits.max_dimension as usize || h > limits.max_dimension as usize {
        return Err(SignalError::TooLarge(format!(
            "{w}×{h} is over the limit of {} pixels a side",
            limits.max_dimension
        )));
    }
    if w as u64 * h as u64 > limits.max_pixels {
        return Err(SignalError::TooLarge(format!(
            "{w}×{h} is over the limit of {} pixels",
            limits.max_pixels
        )));
    }
    let size = w as u64 * h as u64 * channels as u64;
    if size > limits.max_alloc {
        return Err(SignalError::TooLarge(format!(
            "{size} bytes of pixels is over the allocation limit of {} bytes",
            limits.max_alloc
        )));
    }
    Ok(())
}

/// JPEG through libjpeg-turbo, the decoder Pillow (and so HMA) uses: same IDCT, same upsampling,
/// same pixels. Colour spaces it cannot turn into RGB (CMYK, YCCK) and files it decodes only with
/// a warning go to the zune path, which is as lenient as Pillow.
#[cfg(feature = "turbojpeg")]
pub(crate) mod turbo {
    use super::*;
    use std::cell::RefCell;

    thread_local! {
        static DECOMPRESSOR: RefCell<Option<turbojpeg::Decompressor>> = const { RefCell::new(None) };
    }

    pub(super) fn decode(
        bytes: &[u8],
        limits: &DecodeLimits,
    ) -> Result<Option<DecodedImage>, SignalError> {
        DECOMPRESSOR.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                *slot = turbojpeg::Decompressor::new().ok();
            }
            let Some(d) = slot.as_mut() else {
                return Ok(None);
            };
            let Ok(header) = d.read_header(bytes) else {
                return Ok(None);
            };
            let (format, channels) = match header.colorspace {
                turbojpeg::Colorspace::YCbCr | turbojpeg::Colorspace::RGB => {
                    (turbojpeg::PixelFormat::RGB, 3)
                }
                turbojpeg::Colorspace::Gray => (turbojpeg::PixelFormat::GRAY, 1),
                _ => return Ok(None),
            };
            let (w, h) = (header.width, header.height);
            check_limits(ImageFormat::Jpeg, w, h, channels, limits)?;
            let mut buf = pooled_buffer(w * h * channels);
            let image = turbojpeg::Image {
                pixels: &mut buf[..],
                width: w,
                pitch: w * channels,
                height: h,
                format,
            };
            if d.decompress(bytes, image).is_err() {
                PIXEL_POOL.with(|p| *p.borrow_mut() = buf);
                return Ok(None);
            }
            Ok(Some(jpeg_image(w, h, channels == 1, buf)))
        })
    }

    /// A JPEG at 1/`d` scale (d = 2, 4, 8) through libjpeg-turbo's scaled IDCT (Pillow's
    /// `draft` mode uses the same). `None` when it declines (colour space, warnings, cut
    /// files): the caller uses `jpeg-decoder`'s reduced IDCT.
    pub(crate) fn decode_scaled(
        bytes: &[u8],
        d: usize,
        limits: &DecodeLimits,
    ) -> Option<DecodedImage> {
        let scaling = turbojpeg::ScalingFactor::new(1, d);
        DECOMPRESSOR.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                *slot = turbojpeg::Decompressor::new().ok();
            }
            let dec = slot.as_mut()?;
            let header = dec.read_header(bytes).ok()?;
            let (format, channels) = match header.colorspace {
                turbojpeg::Colorspace::YCbCr | turbojpeg::Colorspace::RGB => {
                    (turbojpeg::PixelFormat::RGB, 3)
                }
                turbojpeg::Colorspace::Gray => (turbojpeg::PixelFormat::GRAY, 1),
                _ => return None,
            };
            let scaled = header.scaled(scaling);
            let (w, h) = (scaled.width, scaled.height);
            check_limits(ImageFormat::Jpeg, w, h, channels, limits).ok()?;
            dec.set_scaling_factor(scaling).ok()?;
            let mut buf = vec![0u8; w * h * channels];
            let image = turbojpeg::Image {
                pixels: &mut buf[..],
                width: w,
                pitch: w * channels,
                height: h,
                format,
            };
            let ok = dec.decompress(bytes, image).is_ok();
            // The thread's decompressor goes back to full scale for the next image.
            let reset = dec
                .set_scaling_factor(turbojpeg::ScalingFactor::ONE)
                .is_ok();
            if !reset {
                *slot = None;
            }
            ok.then(|| jpeg_image(w, h, channels == 1, buf))
        })
    }
}

/// JPEG straight through zune-jpeg (the decoder the `image` crate uses, with the same options)
/// into a recycled buffer. `None` for colour spaces left to the `image` crate's conversions.
fn decode_jpeg(bytes: &[u8], limits: &DecodeLimits) -> Result<Option<DecodedImage>, SignalError> {
    use zune_jpeg::zune_core::bytestream::ZCursor;
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;
    let err = |e: zune_jpeg::errors::DecodeErrors| SignalError::Decode(format!("Jpeg: {e}"));
    let options = DecoderOptions::default()
        .set_strict_mode(false)
        .set_max_width(limits.max_dimension as usize)
        .set_max_height(limits.max_dimension as usize);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    if let Err(e) = decoder.decode_headers() {
        return Err(match e {
            zune_jpeg::errors::DecodeErrors::LargeDimensions(_) => {
                SignalError::TooLarge(format!("Jpeg: {e}"))
            }
            e => err(e),
        });
    }
    let (w, h) = decoder
        .dimensions()
        .ok_or_else(|| SignalError::Decode("Jpeg: no dimensions".into()))?;
    check_limits(ImageFormat::Jpeg, w, h, 1, limits)?;
    let out = match decoder.input_colorspace() {
        Some(ColorSpace::YCbCr) | Some(ColorSpace::RGB) => ColorSpace::RGB,
        Some(ColorSpace::Luma) => ColorSpace::Luma,
        _ => return Ok(None),
    };
    decoder.set_options(decoder.options().jpeg_set_out_colorspace(out));
    let size = decoder
        .output_buffer_size()
        .ok_or_else(|| SignalError::Decode("Jpeg: no output size".into()))?;
    check_limits(ImageFormat::Jpeg, w, h, size / (w * h), limits)?;
    let mut buf = pooled_buffer(size);
    decoder.decode_into(&mut buf).map_err(err)?;
    Ok(Some(jpeg_image(w, h, out == ColorSpace::Luma, buf)))
}

/// A decoded JPEG's pixels, grey or RGB.
fn jpeg_image(w: usize, h: usize, grey: bool, buf: Vec<u8>) -> DecodedImage {
    DecodedImage {
        width: w as u32,
        height: h as u32,
        format: ImageFormat::Jpeg,
        data: if grey {
            PixelData::Grey8(buf)
        } else {
            PixelData::Rgb8(buf)
        },
    }
}

/// A complete JPEG has an end-of-image marker (FF D9) after its last start-of-scan (FF DA).
/// Inside entropy-coded data a FF byte is always followed by 00 or a restart marker, so neither
/// marker can appear there by accident; an embedded thumbnail's markers come before the main scans.
pub(crate) fn jpeg_is_truncated(bytes: &[u8]) -> bool {
    let last_sos = bytes.windows(2).rposition(|w| w == [0xff, 0xda]);
    match last_sos {
        None => true,
        Some(p) => !bytes[p..].windows(2).any(|w| w == [0xff, 0xd9]),
    }
}

pub(crate) fn map_image_error(e: image::ImageError, format: ImageFormat) -> SignalError {
    match e {
        image::ImageError::Limits(l) => SignalError::TooLarge(format!("{format:?}: {l}")),
        image::ImageError::Unsupported(u) => {
            SignalError::Decode(format!("{format:?}: unsupported: {u}"))
        }
        other => SignalError::Decode(format!("{format:?}: {other}")),
    }
}

fn to_reference_pixels(img: DynamicImage) -> PixelData {
    match img {
        DynamicImage::ImageRgb8(i) => PixelData::Rgb8(i.into_raw()),
        DynamicImage::ImageRgba8(i) => PixelData::Rgb8(
            i.into_raw()
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect(),
        ),
        DynamicImage::ImageLuma8(i) => PixelData::Grey8(i.into_raw()),
        DynamicImage::ImageLumaA8(i) => {
            PixelData::Grey8(i.into_raw().chunks_exact(2).map(|p| p[0]).collect())
        }
        DynamicImage::ImageLuma16(i) => {
            PixelData::Grey8(i.into_raw().into_iter().map(|v| v.min(255) as u8).collect())
        }
        DynamicImage::ImageLumaA16(i) => PixelData::Grey8(
            i.into_raw()
                .chunks_exact(2)
                .map(|p| (p[0] >> 8) as u8)
                .collect(),
        ),
        DynamicImage::ImageRgb16(i) => {
            PixelData::Rgb8(i.into_raw().into_iter().map(|v| (v >> 8) as u8).collect())
        }
        DynamicImage::ImageRgba16(i) => PixelData::Rgb8(
            i.into_raw()
                .chunks_exact(4)
                .flat_map(|p| [(p[0] >> 8) as u8, (p[1] >> 8) as u8, (p[2] >> 8) as u8])
                .collect(),
        ),
        other => PixelData::Rgb8(other.to_rgb8().into_raw()),
    }
}
