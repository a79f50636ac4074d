//! Writers for the file layouts the `image` crate's encoders do not make: RLE and top-down BMP,
//! tiled and PackBits TIFF, GIF frames placed on a larger screen (optionally interlaced),
//! interlaced (Adam7) PNG. Used by `tests/streamed.rs`, `tests/bombs.rs` and the fuzz seeds
//! (`examples/fuzz_seeds.rs`). Every writer is plain and small: the decoders are what is tested.
#![allow(dead_code)]

use image::{GrayImage, RgbImage};

// --- checksums and zlib ----------------------------------------------------------------------

pub fn crc32(parts: &[&[u8]]) -> u32 {
    let table: Vec<u32> = (0..256u32)
        .map(|n| {
            let mut c = n;
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            c
        })
        .collect();
    let mut c = 0xffff_ffffu32;
    for p in parts {
        for &b in *p {
            c = table[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
        }
    }
    !c
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += x as u32;
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

/// A zlib stream of stored (uncompressed) deflate blocks.
pub fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let mut blocks = data.chunks(65_535).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(b) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        out.extend_from_slice(&(b.len() as u16).to_le_bytes());
        out.extend_from_slice(&(!(b.len() as u16)).to_le_bytes());
        out.extend_from_slice(b);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

pub fn png_chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend_from_slice(kind);
    c.extend_from_slice(data);
    c.extend_from_slice(&crc32(&[kind, data]).to_be_bytes());
    c
}

// --- PNG ---------------------------------------------------------------------------------------

/// Adam7 passes: (x0, y0, dx, dy).
pub const ADAM7: [(u32, u32, u32, u32); 7] = [
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
];

/// The raw (filter byte 0) scanlines of an Adam7-interlaced image, `channels` bytes a pixel.
pub fn adam7_scanlines(
    w: u32,
    h: u32,
    channels: usize,
    px: &dyn Fn(u32, u32) -> [u8; 4],
) -> Vec<u8> {
    let mut raw = Vec::new();
    for &(x0, y0, dx, dy) in &ADAM7 {
        if w <= x0 || h <= y0 {
            continue;
        }
        for y in (y0..h).step_by(dy as usize) {
            raw.push(0);
            for x in (x0..w).step_by(dx as usize) {
                raw.extend_from_slice(&px(x, y)[..channels]);
            }
        }
    }
    raw
}

/// An interlaced 8-bit RGB PNG (colour type 2) or grey (0) PNG.
pub fn interlaced_png(img: &RgbImage, grey: bool) -> Vec<u8> {
    let (w, h) = img.dimensions();
    let channels = if grey { 1 } else { 3 };
    let raw = adam7_scanlines(w, h, channels, &|x, y| {
        let p = img.get_pixel(x, y).0;
        if grey {
            [p[1], 0, 0, 0]
        } else {
            [p[0], p[1], p[2], 0]
        }
    });
    png_file(w, h, if grey { 0 } else { 2 }, 1, &zlib_stored(&raw))
}

pub fn png_file(w: u32, h: u32, color: u8, interlace: u8, idat: &[u8]) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, color, 0, 0, interlace]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    png.extend(png_chunk(b"IDAT", idat));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

// --- BMP ---------------------------------------------------------------------------------------

/// A BITMAPINFOHEADER BMP: `bpp` bits a pixel, `compression` 0 (none), 1 (RLE8), 2 (RLE4),
/// `palette` of BGR0 entries, the pixel data as given (rows in file order).
pub fn bmp_file(
    w: u32,
    h: i32,
    bpp: u16,
    compression: u32,
    palette: &[[u8; 3]],
    data: &[u8],
) -> Vec<u8> {
    let offset = 14 + 40 + palette.len() * 4;
    let mut f = b"BM".to_vec();
    f.extend_from_slice(&((offset + data.len()) as u32).to_le_bytes());
    f.extend_from_slice(&[0; 4]);
    f.extend_from_slice(&(offset as u32).to_le_bytes());
    f.extend_from_slice(&40u32.to_le_bytes());
    f.extend_from_slice(&(w as i32).to_le_bytes());
    f.extend_from_slice(&h.to_le_bytes());
    f.extend_from_slice(&1u16.to_le_bytes());
    f.extend_from_slice(&bpp.to_le_bytes());
    f.extend_from_slice(&compression.to_le_bytes());
    f.extend_from_slice(&(data.len() as u32).to_le_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&(palette.len() as u32).to_le_bytes());
    f.extend_from_slice(&[0; 4]);
    for c in palette {
        f.extend_from_slice(&[c[2], c[1], c[0], 0]);
    }
    f.extend_from_slice(data);
    f
}

/// A 24-bit BMP with rows stored top-down (negative height).
pub fn bmp_top_down(img: &RgbImage) -> Vec<u8> {
    let (w, h) = img.dimensions();
    let stride = (w as usize * 3).div_ceil(4) * 4;
    let mut data = vec![0u8; stride * h as usize];
    for (y, row) in data.chunks_exact_mut(stride).enumerate() {
        for x in 0..w {
            let p = img.get_pixel(x, y as u32).0;
            row[x as usize * 3..x as usize * 3 + 3].copy_from_slice(&[p[2], p[1], p[0]]);
        }
    }
    bmp_file(w, -(h as i32), 24, 0, &[], &data)
}

pub fn grey_palette(levels: usize) -> Vec<[u8; 3]> {
    (0..levels)
        .map(|i| {
            let v = (i * 255 / (levels - 1).max(1)) as u8;
            [v, v.wrapping_add(7), 255 - v]
        })
        .collect()
}

/// RLE8 (`nibbles` false) or RLE4 BMP of palette indices (`indices[y][x]`, top row first):
/// runs, absolute runs, and — for each row whose left `skip` pixels are index 0 — a delta over
/// them (black); rows that are all index 0 at the top of the image end the bitmap early (EOF).
pub fn bmp_rle(
    w: u32,
    h: u32,
    indices: &dyn Fn(u32, u32) -> u8,
    nibbles: bool,
    palette: &[[u8; 3]],
) -> Vec<u8> {
    let mut data = Vec::new();
    // Trailing top rows of zeros are left to the end-of-bitmap marker.
    let mut last = h;
    while last > 0 && (0..w).all(|x| indices(x, h - last) == 0) {
        last -= 1;
    }
    let mut pending_dy = 0u32;
    for fy in 0..last {
        let y = h - 1 - fy;
        let row: Vec<u8> = (0..w).map(|x| indices(x, y)).collect();
        if row.iter().all(|&v| v == 0) && fy + 1 < last {
            pending_dy += 1;
            continue;
        }
        let mut x = 0usize;
        let zeros = row.iter().take_while(|&&v| v == 0).count().min(255);
        if pending_dy > 0 {
            // A delta down over the all-black rows (and right over this row's black start).
            while pending_dy > 0 {
                let dy = pending_dy.min(255);
                let dx = if pending_dy == dy { zeros } else { 0 };
                data.extend_from_slice(&[0, 2, dx as u8, dy as u8]);
                pending_dy -= dy;
                x = dx;
            }
        } else if zeros >= 4 {
            data.extend_from_slice(&[0, 2, zeros as u8, 0]);
            x = zeros;
        }
        while x < row.len() {
            let v = row[x];
            let run = row[x..].iter().take_while(|&&u| u == v).count().min(255);
            if run >= 3 || row.len() - x < 3 {
                let run = run.max(1);
                let b = if nibbles { (v << 4) | v } else { v };
                data.extend_from_slice(&[run as u8, b]);
                x += run;
            } else {
                // An absolute run up to the next repeat (at least 3 pixels).
                let mut n = 3;
                while x + n < row.len()
                    && n < 254
                    && !(x + n + 2 < row.len()
                        && row[x + n] == row[x + n + 1]
                        && row[x + n] == row[x + n + 2])
                {
                    n += 1;
                }
                data.extend_from_slice(&[0, n as u8]);
                let seg = &row[x..x + n];
                let mut bytes: Vec<u8> = if nibbles {
                    seg.chunks(2)
                        .map(|p| (p[0] << 4) | p.get(1).copied().unwrap_or(0))
                        .collect()
                } else {
                    seg.to_vec()
                };
                if bytes.len() % 2 == 1 {
                    bytes.push(0);
                }
                data.extend_from_slice(&bytes);
                x += n;
            }
        }
        data.extend_from_slice(&[0, 0]);
    }
    data.extend_from_slice(&[0, 1]);
    bmp_file(
        w,
        h as i32,
        if nibbles { 4 } else { 8 },
        if nibbles { 2 } else { 1 },
        palette,
        &data,
    )
}

/// An RLE8 BMP of `w × h` pixels of palette index 0 in a few bytes a row (a bomb).
pub fn bmp_rle_zeros(w: u32, h: u32) -> Vec<u8> {
    let mut row = Vec::new();
    let mut left = w;
    while left > 0 {
        let n = left.min(255);
        row.extend_from_slice(&[n as u8, 0]);
        left -= n;
    }
    row.extend_from_slice(&[0, 0]);
    let mut data = Vec::with_capacity(row.len() * h as usize + 2);
    for _ in 0..h {
        data.extend_from_slice(&row);
    }
    data.extend_from_slice(&[0, 1]);
    bmp_file(w, h as i32, 8, 1, &[[10, 20, 30], [200, 100, 50]], &data)
}

// --- TIFF --------------------------------------------------------------------------------------

/// A little-endian baseline TIFF with one IFD. `chunks` are the strips or tiles' bytes as
/// stored; `tile` is `Some((tw, th))` for a tiled layout, else `rows_per_strip` applies.
/// `offsets` may repeat a chunk (index into `chunks`) for many positions.
pub struct Tiff<'a> {
    pub width: u32,
    pub height: u32,
    pub samples: u16,
    pub bits: u16,
    /// 1 none, 32773 PackBits.
    pub compression: u16,
    /// 1 black is zero, 2 RGB, 5 separated (CMYK).
    pub photometric: u16,
    pub tile: Option<(u32, u32)>,
    pub rows_per_strip: u32,
    pub chunks: &'a [Vec<u8>],
    pub layout: &'a [usize],
}

impl Tiff<'_> {
    pub fn encode(&self) -> Vec<u8> {
        let mut f = b"II\x2a\0".to_vec();
        f.extend_from_slice(&0u32.to_le_bytes()); // IFD offset, patched below
        let mut chunk_at = Vec::new();
        for c in self.chunks {
            chunk_at.push(f.len() as u32);
            f.extend_from_slice(c);
        }
        let n = self.layout.len();
        let offsets: Vec<u32> = self.layout.iter().map(|&i| chunk_at[i]).collect();
        let counts: Vec<u32> = self
            .layout
            .iter()
            .map(|&i| self.chunks[i].len() as u32)
            .collect();
        let arrays_at = f.len() as u32;
        for v in &offsets {
            f.extend_from_slice(&v.to_le_bytes());
        }
        for v in &counts {
            f.extend_from_slice(&v.to_le_bytes());
        }
        let bits_at = f.len() as u32;
        for _ in 0..self.samples {
            f.extend_from_slice(&self.bits.to_le_bytes());
        }
        let (offsets_at, counts_at) = (arrays_at, arrays_at + 4 * n as u32);
        let mut entries: Vec<(u16, u16, u32, u32)> = vec![
            (256, 4, 1, self.width),
            (257, 4, 1, self.height),
            (
                258,
                3,
                self.samples as u32,
                if self.samples == 1 {
                    self.bits as u32
                } else {
                    bits_at
                },
            ),
            (259, 3, 1, self.compression as u32),
            (262, 3, 1, self.photometric as u32),
            (277, 3, 1, self.samples as u32),
            (284, 3, 1, 1),
        ];
        let one = |at: u32, v: u32| if n == 1 { v } else { at };
        match self.tile {
            None => {
                entries.push((273, 4, n as u32, one(offsets_at, offsets[0])));
                entries.push((278, 4, 1, self.rows_per_strip));
                entries.push((279, 4, n as u32, one(counts_at, counts[0])));
            }
            Some((tw, th)) => {
                entries.push((322, 4, 1, tw));
                entries.push((323, 4, 1, th));
                entries.push((324, 4, n as u32, one(offsets_at, offsets[0])));
                entries.push((325, 4, n as u32, one(counts_at, counts[0])));
            }
        }
        if self.samples == 4 && self.photometric == 2 {
            entries.push((338, 3, 1, 2)); // unassociated alpha
        }
        entries.sort();
        if f.len() % 2 == 1 {
            f.push(0);
        }
        let ifd = f.len() as u32;
        f[4..8].copy_from_slice(&ifd.to_le_bytes());
        f.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, kind, count, value) in entries {
            f.extend_from_slice(&tag.to_le_bytes());
            f.extend_from_slice(&kind.to_le_bytes());
            f.extend_from_slice(&count.to_le_bytes());
            if kind == 3 && count == 1 {
                f.extend_from_slice(&(value as u16).to_le_bytes());
                f.extend_from_slice(&[0, 0]);
            } else {
                f.extend_from_slice(&value.to_le_bytes());
            }
        }
        f.extend_from_slice(&0u32.to_le_bytes());
        f
    }
}

/// An uncompressed tiled 8-bit RGB TIFF (edge tiles padded).
pub fn tiff_tiled(img: &RgbImage, tw: u32, th: u32) -> Vec<u8> {
    let (w, h) = img.dimensions();
    let mut chunks = Vec::new();
    for ty in (0..h).step_by(th as usize) {
        for tx in (0..w).step_by(tw as usize) {
            let mut t = Vec::with_capacity((tw * th * 3) as usize);
            for y in ty..ty + th {
                for x in tx..tx + tw {
                    let p = if x < w && y < h {
                        img.get_pixel(x, y).0
                    } else {
                        [0; 3]
                    };
                    t.extend_from_slice(&p);
                }
            }
            chunks.push(t);
        }
    }
    let layout: Vec<usize> = (0..chunks.len()).collect();
    Tiff {
        width: w,
        height: h,
        samples: 3,
        bits: 8,
        compression: 1,
        photometric: 2,
        tile: Some((tw, th)),
        rows_per_strip: 0,
        chunks: &chunks,
        layout: &layout,
    }
    .encode()
}

/// An uncompressed 8-bit CMYK TIFF in strips of `rps` rows, from an RGB image (K = 255 − max).
pub fn tiff_cmyk(img: &RgbImage, rps: u32) -> Vec<u8> {
    let (w, h) = img.dimensions();
    let mut chunks = Vec::new();
    for y0 in (0..h).step_by(rps as usize) {
        let mut s = Vec::new();
        for y in y0..(y0 + rps).min(h) {
            for x in 0..w {
                let p = img.get_pixel(x, y).0;
                let k = 255 - p.iter().copied().max().unwrap();
                s.extend_from_slice(&[255 - p[0], 255 - p[1], 255 - p[2], k / 2]);
            }
        }
        chunks.push(s);
    }
    let layout: Vec<usize> = (0..chunks.len()).collect();
    Tiff {
        width: w,
        height: h,
        samples: 4,
        bits: 8,
        compression: 1,
        photometric: 5,
        tile: None,
        rows_per_strip: rps,
        chunks: &chunks,
        layout: &layout,
    }
    .encode()
}

/// PackBits of `n` zero bytes: runs of 128.
pub fn packbits_zeros(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut left = n;
    while left > 0 {
        let k = left.min(128);
        out.extend_from_slice(&[(257 - k) as u8, 0]);
        left -= k;
    }
    out
}

/// A `w × h` black RGB TIFF whose strips (16 rows, PackBits) all share one stored strip: a
/// bomb of a few kilobytes per row of strips.
pub fn tiff_zero_bomb(w: u32, h: u32) -> Vec<u8> {
    let rps = 16;
    let mut strip = Vec::new();
    for _ in 0..rps {
        strip.extend(packbits_zeros(w as usize * 3));
    }
    let strips = h.div_ceil(rps) as usize;
    // The last strip is shorter, a separate chunk.
    let mut last = Vec::new();
    for _ in 0..(h - (strips as u32 - 1) * rps) {
        last.extend(packbits_zeros(w as usize * 3));
    }
    let chunks = vec![strip, last];
    let mut layout = vec![0; strips];
    layout[strips - 1] = 1;
    Tiff {
        width: w,
        height: h,
        samples: 3,
        bits: 8,
        compression: 32773,
        photometric: 2,
        tile: None,
        rows_per_strip: rps,
        chunks: &chunks,
        layout: &layout,
    }
    .encode()
}

// --- GIF ---------------------------------------------------------------------------------------

/// A one-frame GIF: a `sw × sh` screen, the frame's indices at (`left`, `top`), a global palette;
/// with `interlaced`, the frame's lines are stored in GIF's four-pass order.
pub fn gif_file(
    (sw, sh): (u16, u16),
    (left, top): (u16, u16),
    frame: &GrayImage,
    palette: &[[u8; 3]],
    transparent: Option<u8>,
    interlaced: bool,
) -> Vec<u8> {
    let (fw, fh) = (frame.width() as u16, frame.height() as u16);
    let flat: Vec<u8> = palette.iter().flatten().copied().collect();
    let mut out = Vec::new();
    {
        let mut enc = gif::Encoder::new(&mut out, sw, sh, &flat).unwrap();
        let rows: Vec<u32> = if interlaced {
            let mut order = Vec::new();
            for (start, step) in [(0, 8), (4, 8), (2, 4), (1, 2)] {
                order.extend((start..fh as u32).step_by(step));
            }
            order
        } else {
            (0..fh as u32).collect()
        };
        let mut buf = Vec::with_capacity(fw as usize * fh as usize);
        for y in rows {
            buf.extend((0..fw as u32).map(|x| frame.get_pixel(x, y).0[0]));
        }
        let f = gif::Frame {
            left,
            top,
            width: fw,
            height: fh,
            interlaced,
            transparent,
            buffer: std::borrow::Cow::Owned(buf),
            ..gif::Frame::default()
        };
        enc.write_frame(&f).unwrap();
    }
    out
}
