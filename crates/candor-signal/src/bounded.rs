//! Images over the pixel limit, hashed in bounded memory and time; PNGs cut short, hashed as
//! far as they go.
//!
//! - JPEG: decoded at a reduced DCT scale (1/2, 1/4 or 1/8, the largest whose output fits
//!   `max_pixels`) by `jpeg-decoder`'s reduced IDCT — the image a viewer would show, at a size
//!   the limits allow. Baseline JPEGs are decoded an MCU row at a time; progressive ones keep
//!   every coefficient (2 bytes each), which is checked against `max_alloc` first.
//! - PNG: rows streamed from the `png` crate's row reader straight into [`PdqStream`]; the
//!   image is never in memory (interlaced PNGs cannot be streamed: decoded whole, below).
//! - BMP (bands of rows; RLE rows found by one scan of the data), TIFF (strip by strip, tile
//!   row by tile row), GIF (its first frame line by line on the logical screen): streamed by
//!   [`crate::stream`] into [`PdqStream`], bit-exact with the whole decode. An interlaced GIF
//!   frame holds its palette indices (1 byte a pixel; `Bounded`).
//! - Interlaced PNG: its first Adam7 passes are the image at 1/2, 1/4 or 1/8 scale (the pixels
//!   at multiples of the scale): only those are decoded (`ReducedInterlaced`).
//! - WebP (its decoder has no row API; the format's own bound is 16383×16383), and BMP/TIFF
//!   layouts the streamed readers do not take (planar TIFF, 1-bit or float TIFF, a BMP whose
//!   pixel data overlaps its headers): decoded whole within `max_alloc` (checked before
//!   decoding) and fed to [`PdqStream`] row by row (`Bounded`).
//!
//! Past `max_stream_pixels` / `max_stream_dimension`, or when the memory needed is over
//! `max_alloc`, the image is [`SignalError::Unhashable`].

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::decode::{check_limits, jpeg_is_truncated, map_image_error, FullDecode};
use crate::decode::{DecodeLimits, DecodedImage, PixelData};
use crate::stream::{self, Pass};
use crate::trim::{Border, EdgeScan};
use crate::{PdqOutput, PdqStream, Pixels, SignalError};

/// How an image's pixels were obtained for hashing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodePath {
    /// Decoded whole within `max_pixels`: the reference path (bit-exact vectors).
    Full,
    /// A JPEG over `max_pixels`, decoded at 1/`denominator` scale (2, 4 or 8) by the reduced
    /// IDCT.
    ReducedJpeg { denominator: u8 },
    /// A PNG (non-interlaced), BMP, TIFF or GIF (non-interlaced first frame) over
    /// `max_pixels`, streamed row by row through PDQ: the same bits as the whole decode.
    Streamed,
    /// An interlaced PNG over `max_pixels`, from its first Adam7 passes: the pixels at
    /// multiples of `denominator` (2, 4 or 8) in each direction.
    ReducedInterlaced { denominator: u8 },
    /// Over `max_pixels` and decoded whole within `max_alloc` (WebP, an interlaced GIF frame's
    /// palette indices, BMP/TIFF layouts the streamed readers do not take), hashed row by row.
    Bounded,
}

/// A file that ended early (or broke) before its last row: hashed as far as it goes, the
/// rest filled flat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Truncated {
    /// Rows that came from the file, of `rows` (at the decoded scale); `None` when the decoder
    /// does not say (a reduced-scale JPEG decode).
    pub rows_decoded: Option<u32>,
    pub rows: u32,
}

/// An image over the pixel limit, ready for the signals.
pub(crate) enum OverLimit {
    /// Pixels at a reduced scale (hashed like any decoded image).
    Image {
        image: DecodedImage,
        width: u32,
        height: u32,
        path: DecodePath,
        truncated: Option<Truncated>,
    },
    /// Already hashed by a stream.
    Hashed {
        out: Box<PdqOutput>,
        /// The border found and the hash inside it.
        trimmed: Option<(Border, Box<PdqOutput>)>,
        width: u32,
        height: u32,
        format: ImageFormat,
        path: DecodePath,
        truncated: Option<Truncated>,
    },
}

fn unhashable(reason: String) -> SignalError {
    SignalError::Unhashable { reason }
}

/// Width and height from the header, without decoding pixels.
pub(crate) fn dimensions(bytes: &[u8], format: ImageFormat) -> Result<(u32, u32), SignalError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.no_limits();
    let decoder = reader
        .into_decoder()
        .map_err(|e| map_image_error(e, format))?;
    Ok(decoder.dimensions())
}

/// The EXIF orientation stored in the file (JPEG, PNG, WebP, TIFF), when there is one.
pub(crate) fn exif_orientation(
    bytes: &[u8],
    format: ImageFormat,
) -> Option<image::metadata::Orientation> {
    // JPEG's APP1 and PNG's eXIf come before the pixel data: without one near the start there
    // is no orientation, and no header needs parsing again.
    let head = &bytes[..bytes.len().min(256 << 10)];
    let marker: &[u8] = match format {
        ImageFormat::Jpeg => b"Exif\0\0",
        ImageFormat::Png => b"eXIf",
        _ => b"",
    };
    if !marker.is_empty() && !head.windows(marker.len()).any(|w| w == marker) {
        return None;
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.no_limits();
    let mut decoder = reader.into_decoder().ok()?;
    decoder.orientation().ok()
}

/// Hashes an image that is over `max_pixels` or `max_dimension`, within bounded memory; with
/// `trim`, also looks for a uniform border (as [`crate::trim::find_border`] does) and hashes
/// the inside.
pub(crate) fn hash_over_limit(
    bytes: &[u8],
    format: ImageFormat,
    limits: &DecodeLimits,
    trim: bool,
) -> Result<OverLimit, SignalError> {
    let (w, h) = dimensions(bytes, format)?;
    check_stream_limits(w, h, limits)?;
    let streamed = |pass: Box<Pass<'_>>, path: DecodePath| -> Result<OverLimit, SignalError> {
        let mut pass = pass;
        let rows = hash_rows(w, h, limits, trim, |sink| pass(sink))?;
        Ok(OverLimit::Hashed {
            out: rows.out,
            trimmed: rows.trimmed,
            width: w,
            height: h,
            format,
            path,
            truncated: None,
        })
    };
    match format {
        ImageFormat::Jpeg => jpeg_reduced(bytes, w, h, limits),
        ImageFormat::Png => {
            if PngRows::open(bytes, limits)?.is_none() {
                // The reduced image is hashed by the stream too: no float copy of it.
                let (image, d, complete) = stream::png_interlaced_reduced(bytes, w, h, limits)?;
                let (rw, rh) = (image.width, image.height);
                let rows = hash_rows(rw, rh, limits, trim, |sink| {
                    let (px, grey) = match &image.data {
                        PixelData::Rgb8(p) => (p, false),
                        PixelData::Grey8(p) => (p, true),
                    };
                    let per_row = rw as usize * if grey { 1 } else { 3 };
                    for row in px.chunks_exact(per_row) {
                        sink(if grey {
                            Pixels::Grey8(row)
                        } else {
                            Pixels::Rgb8(row)
                        });
                    }
                    Ok(rh as usize)
                })?;
                return Ok(OverLimit::Hashed {
                    out: rows.out,
                    trimmed: rows.trimmed,
                    width: w,
                    height: h,
                    format,
                    path: DecodePath::ReducedInterlaced { denominator: d },
                    truncated: (!complete).then_some(Truncated {
                        rows_decoded: None,
                        rows: rh,
                    }),
                });
            }
            let (w2, h2) = (w as usize, h as usize);
            let rows = hash_rows(w, h, limits, trim, |sink| {
                let mut rows = PngRows::open(bytes, limits)?
                    .ok_or_else(|| SignalError::Decode("Png: changed between passes".into()))?;
                if (rows.width, rows.height) != (w2, h2) {
                    return Err(SignalError::Decode("Png: header disagrees".into()));
                }
                Ok(rows.read(sink))
            })?;
            if rows.rows == 0 {
                return Err(SignalError::Decode("Png: no rows could be decoded".into()));
            }
            Ok(OverLimit::Hashed {
                out: rows.out,
                trimmed: rows.trimmed,
                width: w,
                height: h,
                format,
                path: DecodePath::Streamed,
                truncated: (rows.rows < h as usize).then_some(Truncated {
                    rows_decoded: Some(rows.rows as u32),
                    rows: h,
                }),
            })
        }
        ImageFormat::Bmp => match stream::bmp_rows(bytes, w, h)? {
            Some(pass) => streamed(pass, DecodePath::Streamed),
            None => bounded_whole(bytes, format, w, h, limits, trim),
        },
        ImageFormat::Tiff => match stream::tiff_rows(bytes, w, h, limits)? {
            Some(pass) => streamed(pass, DecodePath::Streamed),
            None => bounded_whole(bytes, format, w, h, limits, trim),
        },
        ImageFormat::Gif => match stream::gif_rows(bytes, w, h, limits)? {
            Some((pass, false)) => streamed(pass, DecodePath::Streamed),
            Some((pass, true)) => streamed(pass, DecodePath::Bounded),
            None => bounded_whole(bytes, format, w, h, limits, trim),
        },
        _ => bounded_whole(bytes, format, w, h, limits, trim),
    }
}

/// What [`hash_rows`] gives.
struct RowHashes {
    out: Box<PdqOutput>,
    trimmed: Option<(Border, Box<PdqOutput>)>,
    rows: usize,
}

/// PDQ of an image whose rows `pass` can produce (each call is one pass over the rows, top to
/// bottom, returning how many it produced). One pass for the hash; with `trim`, a second to
/// measure the border and, when there is one, a third to hash the inside.
fn hash_rows(
    w: u32,
    h: u32,
    limits: &DecodeLimits,
    trim: bool,
    mut pass: impl FnMut(&mut dyn FnMut(Pixels<'_>)) -> Result<usize, SignalError>,
) -> Result<RowHashes, SignalError> {
    let mut stream = new_stream(w, h, limits)?;
    let mut edges = if trim {
        EdgeScan::new(w as usize, h as usize)
    } else {
        None
    };
    let rows = pass(&mut |row| {
        stream.push_row(row);
        if let Some(e) = edges.as_mut() {
            e.push_row(row);
        }
    })?;
    let out = Box::new(stream.finish());
    // A cut image has no bottom edge to measure.
    let border = match edges {
        Some(mut e) if rows == h as usize => {
            e.second_pass();
            pass(&mut |row| e.push_row(row))?;
            e.finish()
        }
        _ => None,
    };
    let trimmed = match border {
        Some(b) => {
            let (x0, x1) = (b.left as usize, (w - b.right) as usize);
            let (y0, y1) = (b.top as usize, (h - b.bottom) as usize);
            let mut inner = new_stream((x1 - x0) as u32, (y1 - y0) as u32, limits)?;
            let mut y = 0;
            pass(&mut |row| {
                if (y0..y1).contains(&y) {
                    inner.push_row(match row {
                        Pixels::Rgb8(p) => Pixels::Rgb8(&p[x0 * 3..x1 * 3]),
                        Pixels::Grey8(p) => Pixels::Grey8(&p[x0..x1]),
                        Pixels::Luma(p) => Pixels::Luma(&p[x0..x1]),
                    });
                }
                y += 1;
            })?;
            Some((b, Box::new(inner.finish())))
        }
        None => None,
    };
    Ok(RowHashes { out, trimmed, rows })
}

fn check_stream_limits(w: u32, h: u32, limits: &DecodeLimits) -> Result<(), SignalError> {
    if w == 0 || h == 0 {
        return Err(SignalError::Decode(format!(
            "image has no pixels ({w}×{h})"
        )));
    }
    if w > limits.max_stream_dimension || h > limits.max_stream_dimension {
        return Err(unhashable(format!(
            "{w}×{h} is over the limit of {} pixels a side for hashing at all",
            limits.max_stream_dimension
        )));
    }
    if w as u64 * h as u64 > limits.max_stream_pixels {
        return Err(unhashable(format!(
            "{w}×{h} is over the limit of {} pixels for hashing at all",
            limits.max_stream_pixels
        )));
    }
    Ok(())
}

fn new_stream(w: u32, h: u32, limits: &DecodeLimits) -> Result<PdqStream, SignalError> {
    let need = PdqStream::memory_bytes(w as usize, h as usize);
    if need > limits.max_alloc {
        return Err(unhashable(format!(
            "hashing {w}×{h} row by row needs {need} bytes, over the allocation limit of {} bytes",
            limits.max_alloc
        )));
    }
    Ok(PdqStream::new(w as usize, h as usize))
}

/// The largest reduced scale 1/d (d = 2, 4, 8) whose output fits the limits.
fn jpeg_scale(w: u32, h: u32, bytes_per_pixel: u64, limits: &DecodeLimits) -> Option<u32> {
    [2u32, 4, 8].into_iter().find(|&d| {
        let (sw, sh) = (w.div_ceil(d), h.div_ceil(d));
        sw <= limits.max_dimension
            && sh <= limits.max_dimension
            && sw as u64 * sh as u64 <= limits.max_pixels
            && sw as u64 * sh as u64 * bytes_per_pixel <= limits.max_alloc
    })
}

fn jpeg_reduced(
    bytes: &[u8],
    w: u32,
    h: u32,
    limits: &DecodeLimits,
) -> Result<OverLimit, SignalError> {
    use jpeg_decoder::{CodingProcess, PixelFormat};
    let err = |e: jpeg_decoder::Error| SignalError::Decode(format!("Jpeg: {e}"));
    // jpeg-decoder stops at the end of the data; with an end-of-image marker after a cut it
    // reads the rest of the scan as zero bits, as libjpeg does.
    let truncated = jpeg_is_truncated(bytes);
    let owned;
    let data: &[u8] = if truncated {
        owned = [bytes, &[0xff, 0xd9]].concat();
        &owned
    } else {
        bytes
    };
    let mut decoder = jpeg_decoder::Decoder::new(data);
    decoder.read_info().map_err(err)?;
    let info = decoder
        .info()
        .ok_or_else(|| SignalError::Decode("Jpeg: no frame header".into()))?;
    // This decoder's own reading of the frame header sizes everything below.
    let (fw, fh) = (info.width as u32, info.height as u32);
    let (components, out_bpp) = match info.pixel_format {
        PixelFormat::L8 => (1u64, 1u64),
        PixelFormat::RGB24 => (3, 3),
        PixelFormat::CMYK32 => (4, 4),
        PixelFormat::L16 => {
            return Err(unhashable(format!(
            "{w}×{h} 16-bit JPEG is over the pixel limit and cannot be decoded at a reduced scale"
        )))
        }
    };
    match info.coding_process {
        CodingProcess::DctSequential => {}
        CodingProcess::DctProgressive => {
            // Every coefficient of every block is kept until the last scan (at most one block
            // per 8×8 pixels per component).
            let coefficients =
                (fw as u64).div_ceil(8) * (fh as u64).div_ceil(8) * 64 * 2 * components;
            if coefficients > limits.max_alloc {
                return Err(unhashable(format!(
                    "progressive {w}×{h} JPEG keeps {coefficients} bytes of coefficients, over \
                     the allocation limit of {} bytes",
                    limits.max_alloc
                )));
            }
        }
        CodingProcess::Lossless => {
            return Err(unhashable(format!(
                "{w}×{h} lossless JPEG is over the pixel limit and cannot be decoded at a reduced scale"
            )))
        }
    }
    let d = jpeg_scale(fw, fh, out_bpp.max(3), limits).ok_or_else(|| {
        unhashable(format!(
            "{w}×{h} JPEG is over the pixel limit even at 1/8 scale"
        ))
    })?;
    // With libjpeg-turbo (the `turbojpeg` feature), its scaled IDCT, when it takes the file.
    #[cfg(feature = "turbojpeg")]
    if !truncated {
        if let Some(image) = crate::decode::turbo::decode_scaled(bytes, d as usize, limits) {
            return Ok(OverLimit::Image {
                image,
                width: w,
                height: h,
                path: DecodePath::ReducedJpeg {
                    denominator: d as u8,
                },
                truncated: None,
            });
        }
    }
    let (sw, sh) = decoder
        .scale(fw.div_ceil(d) as u16, fh.div_ceil(d) as u16)
        .map_err(err)?;
    let (sw, sh) = (sw as usize, sh as usize);
    check_limits(ImageFormat::Jpeg, sw, sh, out_bpp as usize, limits)
        .map_err(|e| unhashable(e.to_string()))?;
    decoder.set_max_decoding_buffer_size(limits.max_alloc.min(usize::MAX as u64) as usize);
    let px = decoder.decode().map_err(err)?;
    if px.len() != sw * sh * out_bpp as usize {
        return Err(SignalError::Decode(format!(
            "Jpeg: {} bytes decoded for {sw}×{sh}",
            px.len()
        )));
    }
    let data = match info.pixel_format {
        PixelFormat::L8 => PixelData::Grey8(px),
        PixelFormat::CMYK32 => PixelData::Rgb8(
            // Pillow's CMYK → RGB: each channel (255 − c)(255 − k) / 255.
            px.chunks_exact(4)
                .flat_map(|p| {
                    let nk = 255 - p[3] as u32;
                    [0, 1, 2].map(|i| ((255 - p[i] as u32) * nk / 255) as u8)
                })
                .collect(),
        ),
        _ => PixelData::Rgb8(px),
    };
    let image = DecodedImage {
        width: sw as u32,
        height: sh as u32,
        format: ImageFormat::Jpeg,
        data,
    };
    // The reduced decode of a cut file fills with whatever zero bits decode to, not a flat
    // colour, so how many rows are real is not known.
    let truncated = truncated.then_some(Truncated {
        rows_decoded: None,
        rows: sh as u32,
    });
    Ok(OverLimit::Image {
        image,
        width: w,
        height: h,
        path: DecodePath::ReducedJpeg {
            denominator: d as u8,
        },
        truncated,
    })
}

/// Decodes whole within `max_alloc` (formats that cannot stream), hashes row by row.
fn bounded_whole(
    bytes: &[u8],
    format: ImageFormat,
    w: u32,
    h: u32,
    limits: &DecodeLimits,
    trim: bool,
) -> Result<OverLimit, SignalError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_stream_dimension);
    image_limits.max_image_height = Some(limits.max_stream_dimension);
    image_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(image_limits);
    let decoder = reader
        .into_decoder()
        .map_err(|e| map_image_error(e, format))?;
    let need = decoder.total_bytes() + PdqStream::memory_bytes(w as usize, h as usize);
    if need > limits.max_alloc {
        return Err(unhashable(format!(
            "{format:?} {w}×{h} cannot be streamed and needs {need} bytes, over the allocation \
             limit of {} bytes",
            limits.max_alloc
        )));
    }
    let img = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(l) => unhashable(format!("{format:?}: {l}")),
        e => map_image_error(e, format),
    })?;
    if (img.width(), img.height()) != (w, h) {
        return Err(SignalError::Decode(format!(
            "{format:?}: header says {w}×{h}, decoded {}×{}",
            img.width(),
            img.height()
        )));
    }
    let rows = hash_rows(w, h, limits, trim, |sink| {
        push_dynamic(&img, sink);
        Ok(h as usize)
    })?;
    Ok(OverLimit::Hashed {
        out: rows.out,
        trimmed: rows.trimmed,
        width: w,
        height: h,
        format,
        path: DecodePath::Bounded,
        truncated: None,
    })
}

/// Rows of a decoded image into a stream, converted as [`crate::decode`] converts
/// (Pillow's `convert("RGB")`).
pub(crate) fn push_dynamic(img: &DynamicImage, sink: &mut dyn FnMut(Pixels<'_>)) {
    let w = img.width() as usize;
    let mut row: Vec<u8> = Vec::with_capacity(w * 3);
    macro_rules! rows {
        ($raw:expr, $per_row:expr, $grey:expr, |$p:ident| $conv:expr) => {
            for src in $raw.chunks_exact($per_row) {
                row.clear();
                row.extend(src.chunks_exact($per_row / w).flat_map(|$p| $conv));
                sink(if $grey {
                    Pixels::Grey8(&row)
                } else {
                    Pixels::Rgb8(&row)
                });
            }
        };
    }
    match img {
        DynamicImage::ImageRgb8(i) => {
            for src in i.as_raw().chunks_exact(w * 3) {
                sink(Pixels::Rgb8(src));
            }
        }
        DynamicImage::ImageLuma8(i) => {
            for src in i.as_raw().chunks_exact(w) {
                sink(Pixels::Grey8(src));
            }
        }
        DynamicImage::ImageRgba8(i) => rows!(i.as_raw(), w * 4, false, |p| [p[0], p[1], p[2]]),
        DynamicImage::ImageLumaA8(i) => rows!(i.as_raw(), w * 2, true, |p| [p[0]]),
        DynamicImage::ImageLuma16(i) => rows!(i.as_raw(), w, true, |p| [p[0].min(255) as u8]),
        DynamicImage::ImageLumaA16(i) => rows!(i.as_raw(), w * 2, true, |p| [(p[0] >> 8) as u8]),
        DynamicImage::ImageRgb16(i) => rows!(i.as_raw(), w * 3, false, |p| [
            (p[0] >> 8) as u8,
            (p[1] >> 8) as u8,
            (p[2] >> 8) as u8
        ]),
        DynamicImage::ImageRgba16(i) => rows!(i.as_raw(), w * 4, false, |p| [
            (p[0] >> 8) as u8,
            (p[1] >> 8) as u8,
            (p[2] >> 8) as u8
        ]),
        other => {
            let rgb = other.to_rgb8();
            for src in rgb.as_raw().chunks_exact(w * 3) {
                sink(Pixels::Rgb8(src));
            }
        }
    }
}

/// A PNG read row by row (after palette and low-bit-depth expansion).
struct PngRows<'a> {
    reader: png::Reader<Cursor<&'a [u8]>>,
    width: usize,
    height: usize,
    color: png::ColorType,
    wide: bool,
    row: Vec<u8>,
}

impl<'a> PngRows<'a> {
    /// `None` for interlaced PNGs (rows come in seven passes: not streamable).
    fn open(bytes: &'a [u8], limits: &DecodeLimits) -> Result<Option<PngRows<'a>>, SignalError> {
        let err = |e: png::DecodingError| match e {
            png::DecodingError::LimitsExceeded => {
                unhashable("Png: over the decoder's allocation limit".into())
            }
            e => SignalError::Decode(format!("Png: {e}")),
        };
        let mut decoder = png::Decoder::new_with_limits(
            Cursor::new(bytes),
            png::Limits {
                bytes: limits.max_alloc.min(usize::MAX as u64) as usize,
            },
        );
        decoder.set_transformations(png::Transformations::EXPAND);
        let reader = decoder.read_info().map_err(err)?;
        let info = reader.info();
        if info.interlaced {
            return Ok(None);
        }
        let (width, height) = (info.width as usize, info.height as usize);
        let (color, depth) = reader.output_color_type();
        Ok(Some(PngRows {
            reader,
            width,
            height,
            color,
            wide: depth == png::BitDepth::Sixteen,
            row: Vec::with_capacity(width * 3),
        }))
    }

    fn is_grey(&self) -> bool {
        matches!(
            self.color,
            png::ColorType::Grayscale | png::ColorType::GrayscaleAlpha
        )
    }

    /// Reads rows into `sink` until the image ends or the data does (cut or corrupt: viewers
    /// show the rows before). Returns how many rows were read.
    fn read(&mut self, sink: &mut dyn FnMut(Pixels<'_>)) -> usize {
        let (w, grey, wide, color) = (self.width, self.is_grey(), self.wide, self.color);
        let depth = if wide {
            png::BitDepth::Sixteen
        } else {
            png::BitDepth::Eight
        };
        let channels = color.samples();
        let mut n = 0;
        while n < self.height {
            let src = match self.reader.next_row() {
                Ok(Some(r)) => r.data(),
                Ok(None) | Err(_) => break,
            };
            let bytes_per_sample = if wide { 2 } else { 1 };
            if src.len() < w * channels * bytes_per_sample {
                break;
            }
            // 8-bit RGB and grey are already what PDQ takes.
            match (wide, color) {
                (false, png::ColorType::Rgb) => {
                    sink(Pixels::Rgb8(&src[..w * 3]));
                    n += 1;
                    continue;
                }
                (false, png::ColorType::Grayscale) => {
                    sink(Pixels::Grey8(&src[..w]));
                    n += 1;
                    continue;
                }
                _ => {}
            }
            convert_png_row(src, w, color, depth, &mut self.row);
            sink(if grey {
                Pixels::Grey8(&self.row)
            } else {
                Pixels::Rgb8(&self.row)
            });
            n += 1;
        }
        n
    }
}

/// `samples` pixels of a PNG row (after EXPAND) to grey or RGB bytes in `out`, converted as
/// Pillow's `convert("RGB")` (what the whole decode gives). False when `src` is short.
pub(crate) fn convert_png_row(
    src: &[u8],
    samples: usize,
    color: png::ColorType,
    depth: png::BitDepth,
    out: &mut Vec<u8>,
) -> bool {
    let wide = depth == png::BitDepth::Sixteen;
    let grey = matches!(
        color,
        png::ColorType::Grayscale | png::ColorType::GrayscaleAlpha
    );
    let channels = color.samples();
    let bytes_per_sample = if wide { 2 } else { 1 };
    let len = samples * channels * bytes_per_sample;
    if src.len() < len {
        return false;
    }
    out.clear();
    for px in src[..len].chunks_exact(channels * bytes_per_sample) {
        let sample = |i: usize| -> u16 {
            if wide {
                u16::from_be_bytes([px[2 * i], px[2 * i + 1]])
            } else {
                px[i] as u16
            }
        };
        if grey {
            // 16-bit grey saturates (Pillow's I;16 → RGB); 16-bit grey + alpha and 16-bit
            // colour keep the high byte.
            let v = sample(0);
            out.push(match (wide, color) {
                (false, _) => v as u8,
                (true, png::ColorType::Grayscale) => v.min(255) as u8,
                (true, _) => (v >> 8) as u8,
            });
        } else {
            for i in 0..3 {
                let v = sample(i);
                out.push(if wide { (v >> 8) as u8 } else { v as u8 });
            }
        }
    }
    true
}

/// A PNG within the limits whose full decode failed: its rows up to the damage, the rest a
/// flat mid-grey fill. `None` when no row can be read (or it is interlaced).
pub(crate) fn png_partial(
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<Option<FullDecode>, SignalError> {
    let Some(mut rows) = PngRows::open(bytes, limits)? else {
        return Ok(None);
    };
    let (w, h) = (rows.width, rows.height);
    let channels = if rows.is_grey() { 1 } else { 3 };
    check_limits(ImageFormat::Png, w, h, channels, limits)?;
    let mut buf = Vec::with_capacity(w * h * channels);
    let n = rows.read(&mut |row| match row {
        Pixels::Rgb8(p) | Pixels::Grey8(p) => buf.extend_from_slice(p),
        Pixels::Luma(_) => {}
    });
    if n == 0 {
        return Ok(None);
    }
    buf.resize(w * h * channels, 128);
    let data = if channels == 1 {
        PixelData::Grey8(buf)
    } else {
        PixelData::Rgb8(buf)
    };
    Ok(Some(FullDecode {
        image: DecodedImage {
            width: w as u32,
            height: h as u32,
            format: ImageFormat::Png,
            data,
        },
        truncated: (n < h).then_some(Truncated {
            rows_decoded: Some(n as u32),
            rows: h as u32,
        }),
    }))
}
