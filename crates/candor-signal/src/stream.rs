//! Row sources for images over the pixel limit whose whole decode would hold every pixel:
//! BMP (uncompressed and RLE), TIFF (strip by strip, tile row by tile row), GIF (first frame,
//! line by line) and interlaced PNG (its first Adam7 passes, a reduced scale).
//!
//! Each source produces the rows, top to bottom, that the whole decode of [`crate::decode`]
//! (the `image` crate, then Pillow's `convert("RGB")`) would give, so [`crate::PdqStream`]
//! hashes them to the same bits; only the interlaced PNG is a reduced decode (its distance to
//! the whole decode is measured in `tests/tolerance.rs`). Each pass re-reads the file from its
//! start (the border trim runs up to three passes): nothing but a band of rows is kept.

use std::io::Cursor;

use image::DynamicImage;

use crate::decode::{map_image_error, DecodeLimits, DecodedImage, PixelData};
use crate::{Pixels, SignalError};

/// One pass over an image's rows: each row to `sink`, top to bottom; returns the row count.
pub(crate) type Pass<'s> = dyn FnMut(&mut dyn FnMut(Pixels<'_>)) -> Result<usize, SignalError> + 's;

fn decode_err(format: &str, e: impl std::fmt::Display) -> SignalError {
    SignalError::Decode(format!("{format}: {e}"))
}

fn unhashable(reason: String) -> SignalError {
    SignalError::Unhashable { reason }
}

/// Bytes of decoded rows a band holds at most (BMP bands, TIFF strips are what the file has).
const BAND_BYTES: u64 = 1 << 20;

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

// ---------------------------------------------------------------------------------------------
// BMP

/// What the streamed BMP reader needs from the headers (the `image` crate validates them).
struct BmpLayout {
    width: usize,
    height: usize,
    top_down: bool,
    core: bool,
    bpp: u32,
    rle: Option<Rle>,
    data_offset: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Rle {
    Rle8,
    Rle4,
}

/// Parses the BMP headers. `None` when the layout is one this reader does not take (the
/// caller decodes whole): pixel data that overlaps the headers or palette, for instance.
fn bmp_layout(bytes: &[u8]) -> Option<BmpLayout> {
    if bytes.get(..2)? != b"BM" {
        return None;
    }
    let data_offset = le32(bytes, 10)? as usize;
    let hsize = le32(bytes, 14)? as usize;
    let header_end = 14 + hsize;
    let (width, height, top_down, bpp, compression, colors_used, core) = if hsize == 12 {
        let w = le16(bytes, 18)? as usize;
        let h = le16(bytes, 20)? as usize;
        (w, h, false, le16(bytes, 24)? as u32, 0, 0, true)
    } else if matches!(hsize, 40 | 52 | 56 | 108 | 124) {
        let w = le32(bytes, 18)? as i32;
        let h = le32(bytes, 22)? as i32;
        if w <= 0 || h == 0 || h == i32::MIN {
            return None;
        }
        (
            w as usize,
            h.unsigned_abs() as usize,
            h < 0,
            le16(bytes, 28)? as u32,
            le32(bytes, 30)?,
            le32(bytes, 46)?,
            false,
        )
    } else {
        return None;
    };
    let rle = match (compression, bpp) {
        (0, 1 | 2 | 4 | 8 | 16 | 24 | 32) | (3, 16 | 32) => None,
        (1, 8) => Some(Rle::Rle8),
        (2, 4) => Some(Rle::Rle4),
        _ => return None,
    };
    // Where the `image` crate's header reading ends (masks, palette): the pixel data must start
    // after it, so a band file made of the headers and some rows reads the same metadata.
    let meta_end = if compression == 3 {
        // The masks are read from offset 54 on (no palette follows them).
        let masks = if matches!(hsize, 56 | 108 | 124) {
            16
        } else {
            12
        };
        (54 + masks).max(header_end)
    } else if bpp <= 8 {
        let colors = if colors_used == 0 {
            1usize << bpp
        } else {
            colors_used as usize
        };
        let per_color = if core { 3 } else { 4 };
        header_end + (colors * per_color).min(256 * per_color)
    } else {
        header_end
    };
    if data_offset < meta_end || data_offset > bytes.len() {
        return None;
    }
    Some(BmpLayout {
        width,
        height,
        top_down,
        core,
        bpp,
        rle,
        data_offset,
    })
}

/// Streams a BMP: `Ok(None)` when its layout is not one this reader takes.
pub(crate) fn bmp_rows<'a>(
    bytes: &'a [u8],
    w: u32,
    h: u32,
) -> Result<Option<Box<Pass<'a>>>, SignalError> {
    // The `image` crate's own header checks first: what it refuses stays refused.
    let decoder = image::codecs::bmp::BmpDecoder::new(Cursor::new(bytes))
        .map_err(|e| map_image_error(e, image::ImageFormat::Bmp))?;
    let Some(layout) = bmp_layout(bytes) else {
        return Ok(None);
    };
    if (layout.width, layout.height) != (w as usize, h as usize) {
        return Ok(None);
    }
    match layout.rle {
        None => Ok(Some(Box::new(move |sink| bmp_bands(bytes, &layout, sink)))),
        Some(kind) => {
            let palette: Vec<[u8; 3]> = decoder.get_palette().unwrap_or_default().to_vec();
            if palette.len() < 256 {
                return Ok(None);
            }
            let rows = rle_scan(bytes, &layout, kind)?;
            Ok(Some(Box::new(move |sink| {
                rle_rows(bytes, &layout, kind, &palette, &rows, sink)
            })))
        }
    }
}

/// Uncompressed BMP: bands of rows, each decoded by the `image` crate from a small BMP made of
/// the file's headers (height changed) and the band's rows — the same conversions, by
/// construction.
fn bmp_bands(
    bytes: &[u8],
    l: &BmpLayout,
    sink: &mut dyn FnMut(Pixels<'_>),
) -> Result<usize, SignalError> {
    let stride = (l.bpp as usize * l.width).div_ceil(32) * 4;
    let band =
        (BAND_BYTES / (l.width as u64 * 4).max(stride as u64)).clamp(1, l.height as u64) as usize;
    let mut file = Vec::with_capacity(l.data_offset + band * stride);
    let mut y0 = 0;
    while y0 < l.height {
        let y1 = (y0 + band).min(l.height);
        let n = y1 - y0;
        // File rows run bottom-up unless the height is negative.
        let first = if l.top_down { y0 } else { l.height - y1 };
        let start = l.data_offset + first * stride;
        let end = (start + n * stride).min(bytes.len());
        file.clear();
        file.extend_from_slice(&bytes[..l.data_offset]);
        if l.core {
            file[20..22].copy_from_slice(&(n as u16).to_le_bytes());
        } else {
            let hh = if l.top_down { -(n as i32) } else { n as i32 };
            file[22..26].copy_from_slice(&hh.to_le_bytes());
        }
        file.extend_from_slice(&bytes[start.min(end)..end]);
        let decoder = image::codecs::bmp::BmpDecoder::new(Cursor::new(&file[..]))
            .map_err(|e| map_image_error(e, image::ImageFormat::Bmp))?;
        let img = DynamicImage::from_decoder(decoder)
            .map_err(|e| map_image_error(e, image::ImageFormat::Bmp))?;
        crate::bounded::push_dynamic(&img, sink);
        y0 = y1;
    }
    Ok(l.height)
}

/// How a row of an RLE BMP starts: the offset of its first instruction, the pixels already
/// set (black) and the run position the `image` crate counts (`x`, not clamped to the width).
#[derive(Clone, Copy)]
struct RowStart {
    offset: usize,
    pos: u32,
    x: u64,
}

/// How the instructions of one row ended.
enum RowEnd {
    /// End of row: the next row starts at this offset.
    Eol(usize),
    /// End of bitmap: this row's rest and every row after are black.
    Eof,
    /// A delta that moves `dy` ≥ 1 rows on, then `dx` right; `x` is the run position before.
    Delta { next: usize, dx: u8, dy: u8, x: u64 },
}

fn corrupt() -> SignalError {
    SignalError::Decode("Bmp: corrupt RLE data".into())
}

fn truncated_rle() -> SignalError {
    SignalError::Decode("Bmp: RLE data ends early".into())
}

/// Runs one row's instructions from `start`, as the `image` crate's RLE reader does (same
/// errors), writing RGB pixels into `out` when given.
fn rle_row(
    data: &[u8],
    start: RowStart,
    width: u32,
    kind: Rle,
    palette: &[[u8; 3]],
    mut out: Option<&mut [u8]>,
) -> Result<RowEnd, SignalError> {
    let mut at = start.offset;
    let (mut pos, mut x) = (start.pos, start.x);
    let byte = |at: &mut usize| -> Result<u8, SignalError> {
        let b = *data.get(*at).ok_or_else(truncated_rle)?;
        *at += 1;
        Ok(b)
    };
    let put = |pos: u32, rgb: [u8; 3], out: &mut Option<&mut [u8]>| {
        if let Some(o) = out.as_deref_mut() {
            let i = pos as usize * 3;
            o[i..i + 3].copy_from_slice(&rgb);
        }
    };
    loop {
        let control = byte(&mut at)?;
        if control == 0 {
            match byte(&mut at)? {
                0 => return Ok(RowEnd::Eol(at)),
                1 => return Ok(RowEnd::Eof),
                2 => {
                    let dx = byte(&mut at)?;
                    let dy = byte(&mut at)?;
                    if dy > 0 {
                        return Ok(RowEnd::Delta {
                            next: at,
                            dx,
                            dy,
                            x,
                        });
                    }
                    // Skipped pixels are black (already, in `out`).
                    if pos + dx as u32 > width {
                        return Err(corrupt());
                    }
                    pos += dx as u32;
                    x += dx as u64;
                }
                op => {
                    // Absolute run of `op` pixels, padded to an even byte count.
                    let mut len = op as usize;
                    if kind == Rle::Rle4 {
                        len = len.div_ceil(2);
                    }
                    len += len & 1;
                    let run = data.get(at..at + len).ok_or_else(truncated_rle)?;
                    at += len;
                    if pos + op as u32 > width {
                        return Err(corrupt());
                    }
                    for i in 0..op as usize {
                        let idx = match kind {
                            Rle::Rle8 => run[i],
                            Rle::Rle4 if i % 2 == 0 => run[i / 2] >> 4,
                            Rle::Rle4 => run[i / 2] & 0xf,
                        };
                        put(pos, palette[idx as usize], &mut out);
                        pos += 1;
                    }
                    x += op as u64;
                }
            }
        } else {
            let idx = byte(&mut at)?;
            let n = control as u32;
            match kind {
                // An 8-bit run longer than the row is clipped (ImageMagick writes such files).
                Rle::Rle8 => {
                    let take = n.min(width - pos);
                    for _ in 0..take {
                        put(pos, palette[idx as usize], &mut out);
                        pos += 1;
                    }
                }
                Rle::Rle4 => {
                    if pos + n > width {
                        return Err(corrupt());
                    }
                    for i in 0..n {
                        let nib = if i % 2 == 0 { idx >> 4 } else { idx & 0xf };
                        put(pos, palette[nib as usize], &mut out);
                        pos += 1;
                    }
                }
            }
            x += n as u64;
        }
    }
}

/// Reads the RLE data once without pixels: where each row starts (file order, bottom row
/// first), `None` for rows left black. Refuses what the whole decode refuses.
fn rle_scan(bytes: &[u8], l: &BmpLayout, kind: Rle) -> Result<Vec<Option<RowStart>>, SignalError> {
    let (w, h) = (l.width as u32, l.height);
    let mut rows: Vec<Option<RowStart>> = vec![None; h];
    let mut r = 0;
    let mut start = RowStart {
        offset: l.data_offset,
        pos: 0,
        x: 0,
    };
    while r < h {
        rows[r] = Some(start);
        match rle_row(bytes, start, w, kind, &[[0; 3]; 256], None)? {
            RowEnd::Eol(next) => {
                r += 1;
                start = RowStart {
                    offset: next,
                    pos: 0,
                    x: 0,
                };
            }
            RowEnd::Eof => break,
            RowEnd::Delta { next, dx, dy, x } => {
                r += dy as usize;
                if r >= h || x > w as u64 || x + dx as u64 > w as u64 {
                    return Err(corrupt());
                }
                start = RowStart {
                    offset: next,
                    pos: (x + dx as u64) as u32,
                    x: x + dx as u64,
                };
            }
        }
    }
    Ok(rows)
}

fn rle_rows(
    bytes: &[u8],
    l: &BmpLayout,
    kind: Rle,
    palette: &[[u8; 3]],
    starts: &[Option<RowStart>],
    sink: &mut dyn FnMut(Pixels<'_>),
) -> Result<usize, SignalError> {
    let mut row = vec![0u8; l.width * 3];
    for y in 0..l.height {
        row.fill(0);
        // RLE bitmaps are bottom-up.
        if let Some(start) = starts[l.height - 1 - y] {
            rle_row(bytes, start, l.width as u32, kind, palette, Some(&mut row))?;
        }
        sink(Pixels::Rgb8(&row));
    }
    Ok(l.height)
}

// ---------------------------------------------------------------------------------------------
// TIFF

/// Sample layouts streamed, with the conversion the whole decode applies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TiffKind {
    Grey8,
    Grey16,
    GreyA8,
    GreyA16,
    Rgb8,
    Rgb16,
    Rgba8,
    Rgba16,
    Cmyk8,
    Cmyk16,
}

impl TiffKind {
    fn samples(self) -> usize {
        match self {
            TiffKind::Grey8 | TiffKind::Grey16 => 1,
            TiffKind::GreyA8 | TiffKind::GreyA16 => 2,
            TiffKind::Rgb8 | TiffKind::Rgb16 => 3,
            _ => 4,
        }
    }
    fn wide(self) -> bool {
        matches!(
            self,
            TiffKind::Grey16
                | TiffKind::GreyA16
                | TiffKind::Rgb16
                | TiffKind::Rgba16
                | TiffKind::Cmyk16
        )
    }
    fn grey(self) -> bool {
        matches!(
            self,
            TiffKind::Grey8 | TiffKind::Grey16 | TiffKind::GreyA8 | TiffKind::GreyA16
        )
    }
}

/// The `image` crate's CMYK → RGB (not Pillow's integer formula: this is what it decodes to).
fn cmyk8(p: &[u16]) -> [u8; 3] {
    let kf = 1. - f32::from(p[3] as u8) / 255.;
    [0, 1, 2].map(|i| ((255. - f32::from(p[i] as u8)) * kf) as u8)
}

fn cmyk16(p: &[u16]) -> [u8; 3] {
    let kf = 1. - f32::from(p[3]) / 65535.;
    [0, 1, 2].map(|i| ((((65535. - f32::from(p[i])) * kf) as u16) >> 8) as u8)
}

/// One row of samples to grey or RGB bytes, as `decode::to_reference_pixels` converts.
fn tiff_row(kind: TiffKind, src: &[u16], out: &mut Vec<u8>) {
    out.clear();
    let n = kind.samples();
    for p in src.chunks_exact(n) {
        match kind {
            TiffKind::Grey8 | TiffKind::GreyA8 => out.push(p[0] as u8),
            TiffKind::Grey16 => out.push(p[0].min(255) as u8),
            TiffKind::GreyA16 => out.push((p[0] >> 8) as u8),
            TiffKind::Rgb8 | TiffKind::Rgba8 => out.extend(p[..3].iter().map(|&v| v as u8)),
            TiffKind::Rgb16 | TiffKind::Rgba16 => {
                out.extend(p[..3].iter().map(|&v| (v >> 8) as u8))
            }
            TiffKind::Cmyk8 => out.extend(cmyk8(p)),
            TiffKind::Cmyk16 => out.extend(cmyk16(p)),
        }
    }
}

fn tiff_err(e: tiff::TiffError) -> SignalError {
    match e {
        tiff::TiffError::LimitsExceeded => unhashable("Tiff: over the decoder's limits".into()),
        e => decode_err("Tiff", e),
    }
}

fn tiff_decoder<'a>(
    bytes: &'a [u8],
    limits: &DecodeLimits,
) -> Result<tiff::decoder::Decoder<Cursor<&'a [u8]>>, SignalError> {
    let mut tl = tiff::decoder::Limits::default();
    let max = limits.max_alloc.min(usize::MAX as u64) as usize;
    tl.decoding_buffer_size = max;
    tl.intermediate_buffer_size = max;
    Ok(tiff::decoder::Decoder::new(Cursor::new(bytes))
        .map_err(tiff_err)?
        .with_limits(tl))
}

/// Streams a TIFF strip by strip (or tile row by tile row). `Ok(None)` for what this reader does
/// not take (planar, bit depths other than 8 and 16, floats): the caller decodes whole.
pub(crate) fn tiff_rows<'a>(
    bytes: &'a [u8],
    w: u32,
    h: u32,
    limits: &'a DecodeLimits,
) -> Result<Option<Box<Pass<'a>>>, SignalError> {
    use tiff::ColorType as C;
    // The `image` crate's checks (sample formats, colour types) first.
    image::codecs::tiff::TiffDecoder::new(Cursor::new(bytes))
        .map_err(|e| map_image_error(e, image::ImageFormat::Tiff))?;
    let mut d = tiff_decoder(bytes, limits)?;
    if d.dimensions().map_err(tiff_err)? != (w, h) {
        return Ok(None);
    }
    let kind = match d.colortype().map_err(tiff_err)? {
        C::Gray(8) => TiffKind::Grey8,
        C::Gray(16) => TiffKind::Grey16,
        C::GrayA(8) => TiffKind::GreyA8,
        C::GrayA(16) => TiffKind::GreyA16,
        C::RGB(8) => TiffKind::Rgb8,
        C::RGB(16) => TiffKind::Rgb16,
        C::RGBA(8) => TiffKind::Rgba8,
        C::RGBA(16) => TiffKind::Rgba16,
        C::CMYK(8) => TiffKind::Cmyk8,
        C::CMYK(16) => TiffKind::Cmyk16,
        _ => return Ok(None),
    };
    let planar = d
        .find_tag_unsigned::<u16>(tiff::tags::Tag::PlanarConfiguration)
        .map_err(tiff_err)?;
    if planar.is_some_and(|p| p != 1) {
        return Ok(None);
    }
    // One band of chunks: a strip, or a row of tiles.
    let (cw, ch) = d.chunk_dimensions();
    if cw == 0 || ch == 0 {
        return Ok(None);
    }
    let band = (w as u64) * (ch.min(h) as u64) * kind.samples() as u64 * 2;
    if band > limits.max_alloc {
        return Err(unhashable(format!(
            "Tiff {w}×{h}: one strip or row of tiles ({band} bytes) is over the allocation \
             limit of {} bytes",
            limits.max_alloc
        )));
    }
    Ok(Some(Box::new(move |sink| {
        tiff_pass(bytes, w, h, kind, limits, sink)
    })))
}

fn tiff_pass(
    bytes: &[u8],
    w: u32,
    h: u32,
    kind: TiffKind,
    limits: &DecodeLimits,
    sink: &mut dyn FnMut(Pixels<'_>),
) -> Result<usize, SignalError> {
    use tiff::decoder::{ChunkType, DecodingResult};
    let mut d = tiff_decoder(bytes, limits)?;
    let (cw, ch) = d.chunk_dimensions();
    let (w, h) = (w as usize, h as usize);
    let n = kind.samples();
    let across = match d.get_chunk_type() {
        ChunkType::Strip => 1,
        ChunkType::Tile => w.div_ceil(cw as usize),
    };
    let down = h.div_ceil(ch as usize);
    let chunks = match d.get_chunk_type() {
        ChunkType::Strip => d.strip_count().map_err(tiff_err)? as usize,
        ChunkType::Tile => d.tile_count().map_err(tiff_err)? as usize,
    };
    if chunks < across * down {
        return Err(SignalError::Decode(format!(
            "Tiff: {chunks} chunks for a {across}×{down} grid"
        )));
    }
    let mut band: Vec<u16> = Vec::new();
    let mut out = Vec::with_capacity(w * 3);
    let mut y = 0;
    for r in 0..down {
        let rows = (ch as usize).min(h - r * ch as usize);
        band.clear();
        band.resize(rows * w * n, 0);
        let mut x0 = 0;
        for c in 0..across {
            let idx = (r * across + c) as u32;
            let (dw, dh) = d.chunk_data_dimensions(idx);
            let (dw, dh) = (dw as usize, dh as usize);
            if dh != rows || x0 + dw > w {
                return Err(SignalError::Decode("Tiff: chunk size disagrees".into()));
            }
            let data = d.read_chunk(idx).map_err(tiff_err)?;
            let put = |band: &mut [u16], get: &dyn Fn(usize) -> u16, len: usize| {
                if len < dw * dh * n {
                    return false;
                }
                for yy in 0..dh {
                    for i in 0..dw * n {
                        band[(yy * w + x0) * n + i] = get(yy * dw * n + i);
                    }
                }
                true
            };
            let ok = match (&data, kind.wide()) {
                (DecodingResult::U8(v), false) => put(&mut band, &|i| v[i] as u16, v.len()),
                (DecodingResult::U16(v), true) => put(&mut band, &|i| v[i], v.len()),
                _ => false,
            };
            if !ok {
                return Err(SignalError::Decode("Tiff: unexpected chunk data".into()));
            }
            x0 += dw;
        }
        for row in band.chunks_exact(w * n) {
            tiff_row(kind, row, &mut out);
            sink(if kind.grey() {
                Pixels::Grey8(&out)
            } else {
                Pixels::Rgb8(&out)
            });
            y += 1;
        }
    }
    Ok(y)
}

// ---------------------------------------------------------------------------------------------
// GIF

/// The first frame of a GIF on its logical screen, as the `image` crate decodes it: the frame
/// at its offset, everything else black (transparent black with the alpha dropped); palette
/// colours for transparent pixels (alpha dropped), black for indices past the palette.
/// Non-interlaced frames are read line by line; an interlaced frame's lines come in four
/// passes, so its palette indices (1 byte a pixel, not the 4 of the whole decode) are held.
/// `Ok(None)` for an empty frame (the caller decodes whole).
pub(crate) fn gif_rows<'a>(
    bytes: &'a [u8],
    w: u32,
    h: u32,
    limits: &'a DecodeLimits,
) -> Result<Option<(Box<Pass<'a>>, bool)>, SignalError> {
    let d = gif_open(bytes)?;
    let Some(f) = d.1 else {
        return Err(SignalError::Decode("Gif: no frame".into()));
    };
    if (d.0.width() as u32, d.0.height() as u32) != (w, h) || f.width == 0 || f.height == 0 {
        return Ok(None);
    }
    if f.interlaced && f.width as u64 * f.height as u64 > limits.max_alloc {
        return Err(unhashable(format!(
            "Gif: an interlaced {}×{} frame is over the allocation limit of {} bytes",
            f.width, f.height, limits.max_alloc
        )));
    }
    let interlaced = f.interlaced;
    Ok(Some((
        Box::new(move |sink| gif_pass(bytes, w as usize, h as usize, sink)),
        interlaced,
    )))
}

#[derive(Clone, Copy)]
struct GifFrame {
    left: usize,
    top: usize,
    width: usize,
    height: usize,
    interlaced: bool,
}

type GifDecoder<'a> = gif::Decoder<Cursor<&'a [u8]>>;

fn gif_open(bytes: &[u8]) -> Result<(GifDecoder<'_>, Option<GifFrame>), SignalError> {
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::Indexed);
    let mut d = options
        .read_info(Cursor::new(bytes))
        .map_err(|e| decode_err("Gif", e))?;
    let f = d
        .next_frame_info()
        .map_err(|e| decode_err("Gif", e))?
        .map(|f| GifFrame {
            left: f.left as usize,
            top: f.top as usize,
            width: f.width as usize,
            height: f.height as usize,
            interlaced: f.interlaced,
        });
    Ok((d, f))
}

fn gif_pass(
    bytes: &[u8],
    w: usize,
    h: usize,
    sink: &mut dyn FnMut(Pixels<'_>),
) -> Result<usize, SignalError> {
    let (mut d, f) = gif_open(bytes)?;
    let f = f.ok_or_else(|| SignalError::Decode("Gif: no frame".into()))?;
    let truncated = || SignalError::Decode("Gif: image truncated".into());
    let palette = d.palette().map_err(|e| decode_err("Gif", e))?.to_vec();
    let mut row = vec![0u8; w * 3];
    let mut line = vec![0u8; f.width];
    // An interlaced frame is deinterlaced whole (indices only).
    let frame: Option<Vec<u8>> = if f.interlaced {
        let mut all = vec![0u8; f.width * f.height];
        d.read_into_buffer(&mut all)
            .map_err(|e| decode_err("Gif", e))?;
        Some(all)
    } else {
        None
    };
    let x1 = (f.left + f.width).min(w);
    for y in 0..h {
        row.fill(0);
        if (f.top..f.top + f.height).contains(&y) {
            let fy = y - f.top;
            let src: &[u8] = match &frame {
                Some(all) => &all[fy * f.width..(fy + 1) * f.width],
                None => {
                    if !d.fill_buffer(&mut line).map_err(|e| decode_err("Gif", e))? {
                        return Err(truncated());
                    }
                    &line
                }
            };
            for x in f.left.min(x1)..x1 {
                let i = src[x - f.left] as usize * 3;
                if let Some(c) = palette.get(i..i + 3) {
                    row[x * 3..x * 3 + 3].copy_from_slice(c);
                }
            }
        }
        sink(Pixels::Rgb8(&row));
    }
    // Frame lines below the screen are read too: a frame cut there fails as the whole decode does.
    if frame.is_none() {
        for _ in h.saturating_sub(f.top).min(f.height)..f.height {
            if !d.fill_buffer(&mut line).map_err(|e| decode_err("Gif", e))? {
                return Err(truncated());
            }
        }
    }
    Ok(h)
}

// ---------------------------------------------------------------------------------------------
// Interlaced PNG

/// Adam7 passes: (x0, y0, dx, dy).
const ADAM7: [(usize, usize, usize, usize); 7] = [
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
];

/// An interlaced PNG over the pixel limit at 1/`d` scale (d = 2, 4, 8, the largest whose output
/// fits): Adam7's first passes hold exactly the pixels at multiples of `d` (passes 1–5 for 1/2,
/// 1–3 for 1/4, pass 1 for 1/8), so only those passes are decoded, and nothing else is held.
/// Returns the reduced image, the scale and whether those passes were complete (a file cut
/// before they end keeps the pixels it has, the rest mid-grey).
pub(crate) fn png_interlaced_reduced(
    bytes: &[u8],
    w: u32,
    h: u32,
    limits: &DecodeLimits,
) -> Result<(DecodedImage, u8, bool), SignalError> {
    let err = |e: png::DecodingError| match e {
        png::DecodingError::LimitsExceeded => {
            unhashable("Png: over the decoder's allocation limit".into())
        }
        e => decode_err("Png", e),
    };
    let d = [2usize, 4, 8]
        .into_iter()
        .find(|&d| {
            let (rw, rh) = ((w as usize).div_ceil(d), (h as usize).div_ceil(d));
            rw <= limits.max_dimension as usize
                && rh <= limits.max_dimension as usize
                && (rw * rh) as u64 <= limits.max_pixels
                && (rw * rh * 3) as u64 <= limits.max_alloc
        })
        .ok_or_else(|| {
            unhashable(format!(
                "{w}×{h} interlaced PNG is over the pixel limit even at 1/8 scale"
            ))
        })?;
    let passes = match d {
        2 => 5,
        4 => 3,
        _ => 1,
    };
    let mut decoder = png::Decoder::new_with_limits(
        Cursor::new(bytes),
        png::Limits {
            bytes: limits.max_alloc.min(usize::MAX as u64) as usize,
        },
    );
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(err)?;
    let (iw, ih) = (reader.info().width as usize, reader.info().height as usize);
    if (iw, ih) != (w as usize, h as usize) || !reader.info().interlaced {
        return Err(SignalError::Decode("Png: header disagrees".into()));
    }
    let (color, depth) = reader.output_color_type();
    let grey = matches!(
        color,
        png::ColorType::Grayscale | png::ColorType::GrayscaleAlpha
    );
    let channels = if grey { 1 } else { 3 };
    let (rw, rh) = (iw.div_ceil(d), ih.div_ceil(d));
    let mut px = vec![128u8; rw * rh * channels];
    let mut filled = vec![false; rh];
    let mut conv = Vec::new();
    let mut complete = true;
    'passes: for &(x0, y0, dx, dy) in &ADAM7[..passes] {
        let samples = if iw > x0 { (iw - x0).div_ceil(dx) } else { 0 };
        let lines = if ih > y0 { (ih - y0).div_ceil(dy) } else { 0 };
        if samples == 0 || lines == 0 {
            continue;
        }
        for line in 0..lines {
            let src = match reader.next_row() {
                Ok(Some(r)) => r.data(),
                Ok(None) | Err(_) => {
                    complete = false;
                    break 'passes;
                }
            };
            if !crate::bounded::convert_png_row(src, samples, color, depth, &mut conv) {
                complete = false;
                break 'passes;
            }
            let ry = (y0 + line * dy) / d;
            filled[ry] = true;
            for i in 0..samples {
                let rx = (x0 + i * dx) / d;
                let o = (ry * rw + rx) * channels;
                px[o..o + channels].copy_from_slice(&conv[i * channels..(i + 1) * channels]);
            }
        }
    }
    if !filled.iter().any(|&f| f) {
        return Err(SignalError::Decode("Png: no rows could be decoded".into()));
    }
    let data = if grey {
        PixelData::Grey8(px)
    } else {
        PixelData::Rgb8(px)
    };
    Ok((
        DecodedImage {
            width: rw as u32,
            height: rh as u32,
            format: image::ImageFormat::Png,
            data,
        },
        d as u8,
        complete,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam7_first_passes_hold_the_multiples_of_the_scale() {
        for (d, passes) in [(2usize, 5usize), (4, 3), (8, 1)] {
            let mut seen = [[false; 8]; 8];
            for &(x0, y0, dx, dy) in &ADAM7[..passes] {
                for y in (y0..8).step_by(dy) {
                    for x in (x0..8).step_by(dx) {
                        seen[y][x] = true;
                    }
                }
            }
            for (y, row) in seen.iter().enumerate() {
                for (x, &s) in row.iter().enumerate() {
                    assert_eq!(s, x % d == 0 && y % d == 0, "1/{d} at {x},{y}");
                }
            }
        }
    }
}
