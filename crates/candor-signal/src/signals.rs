//! From bytes or a reader to every signal: exact digests always, PDQ (with dihedral and trimmed
//! variants) when the content is an image.

use std::cell::RefCell;
use std::io::{self, Read};

use crate::bounded::{self, DecodePath, OverLimit, Truncated};
use crate::decode::{decode_full, sniff_format, DecodeLimits, DecodedImage};
use crate::digest::{read_retrying, Digester, ExactDigests, CHUNK};
use crate::trim::{crop, find_border, Border};
use crate::{Orientation, PdqHash, PdqHasher, PdqOutput, PdqSignal, SignalError};

/// How images are hashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageOptions {
    pub limits: DecodeLimits,
    /// Apply the EXIF orientation before hashing (the reference family does not).
    pub exif_orient: bool,
    /// Look for a uniform border and, when there is one, also hash the image inside it.
    pub trim: bool,
}

impl Default for ImageOptions {
    fn default() -> Self {
        ImageOptions {
            limits: DecodeLimits::default(),
            exif_orient: false,
            trim: true,
        }
    }
}

/// The PDQ of an image with its border removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrimmedSignals {
    pub border: Border,
    pub pdq: PdqSignal,
    pub dihedral: [PdqHash; 8],
}

/// The PDQ of an image as a viewer displays it, where its EXIF orientation says to turn it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DisplayedSignal {
    /// The EXIF orientation tag (2..=8).
    pub exif_orientation: u8,
    /// The dihedral transform from the stored pixels to the displayed ones:
    /// `pdq.hash == dihedral[orientation.index()]`.
    pub orientation: Orientation,
    /// The displayed image's hash (quality is the same as the stored image's).
    pub pdq: PdqSignal,
}

/// The perceptual signals of one image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageSignals {
    /// The image's own size (not the reduced scale it may have been decoded at).
    pub width: u32,
    pub height: u32,
    pub format: image::ImageFormat,
    /// The reference PDQ hash and quality.
    pub pdq: PdqSignal,
    /// The eight dihedral hashes in reference order; `[0]` equals `pdq.hash`.
    pub dihedral: [PdqHash; 8],
    /// Present when a uniform border was found (and trimming is on).
    pub trimmed: Option<TrimmedSignals>,
    /// Present when the file has an EXIF orientation other than 1 and `exif_orient` is off:
    /// the hash of the image as displayed. Match both `pdq` and this.
    pub pdq_displayed: Option<DisplayedSignal>,
    /// How the pixels were obtained: `Full` for everything within `max_pixels`.
    pub decode_path: DecodePath,
    /// Present when the file ended early and was hashed as far as it goes.
    pub truncated: Option<Truncated>,
}

thread_local! {
    static HASHER: RefCell<PdqHasher> = RefCell::new(PdqHasher::new());
}

/// Hashes a decoded image.
pub fn hash_decoded(img: &DecodedImage, trim: bool) -> ImageSignals {
    HASHER.with(|h| {
        let mut hasher = h.borrow_mut();
        let out = hasher.hash(img.pixels(), img.width as usize, img.height as usize);
        let trimmed = if trim {
            find_border(img).map(|border| {
                let inner = crop(img, border);
                let t = hasher.hash(inner.pixels(), inner.width as usize, inner.height as usize);
                TrimmedSignals {
                    border,
                    pdq: t.signal,
                    dihedral: t.dihedral(),
                }
            })
        } else {
            None
        };
        ImageSignals {
            trimmed,
            ..signals_of(&out, img.width, img.height, img.format)
        }
    })
}

fn signals_of(
    out: &PdqOutput,
    width: u32,
    height: u32,
    format: image::ImageFormat,
) -> ImageSignals {
    ImageSignals {
        width,
        height,
        format,
        pdq: out.signal,
        dihedral: out.dihedral(),
        trimmed: None,
        pdq_displayed: None,
        decode_path: DecodePath::Full,
        truncated: None,
    }
}

/// Decodes and hashes one image held in memory.
///
/// Within `max_pixels` / `max_dimension` the image is decoded whole (the reference path).
/// Over them it is still hashed, in bounded memory (see [`crate::bounded`]); past
/// `max_stream_pixels` / `max_stream_dimension` it is [`SignalError::Unhashable`]. Truncated
/// JPEGs and PNGs are hashed as far as they go ([`ImageSignals::truncated`]); bytes after the
/// end of an image are ignored; the format is sniffed from the content, never a file name.
pub fn hash_image_bytes(bytes: &[u8], opts: &ImageOptions) -> Result<ImageSignals, SignalError> {
    let mut signals = match decode_full(bytes, &opts.limits, opts.exif_orient) {
        Ok(d) => {
            let mut s = hash_decoded(&d.image, opts.trim);
            s.truncated = d.truncated;
            crate::decode::recycle(d.image);
            s
        }
        Err(SignalError::TooLarge(_)) if bytes.len() as u64 <= opts.limits.max_bytes => {
            let format = sniff_format(bytes).ok_or(SignalError::NotAnImage)?;
            hash_over_limit(bytes, format, opts)?
        }
        Err(e) => return Err(e),
    };
    let orient_applied = opts.exif_orient && signals.decode_path == DecodePath::Full;
    if !orient_applied {
        if let Some(exif) = bounded::exif_orientation(bytes, signals.format) {
            if let Some((tag, o)) = displayed_transform(exif) {
                signals.pdq_displayed = Some(DisplayedSignal {
                    exif_orientation: tag,
                    orientation: o,
                    pdq: PdqSignal {
                        hash: signals.dihedral[o.index()],
                        quality: signals.pdq.quality,
                    },
                });
            }
        }
    }
    Ok(signals)
}

fn hash_over_limit(
    bytes: &[u8],
    format: image::ImageFormat,
    opts: &ImageOptions,
) -> Result<ImageSignals, SignalError> {
    let over = bounded::hash_over_limit(bytes, format, &opts.limits, opts.trim)?;
    Ok(match over {
        OverLimit::Image {
            image,
            width,
            height,
            path,
            truncated,
        } => {
            let s = hash_decoded(&image, opts.trim);
            ImageSignals {
                width,
                height,
                decode_path: path,
                truncated,
                ..s
            }
        }
        OverLimit::Hashed {
            out,
            trimmed,
            width,
            height,
            format,
            path,
            truncated,
        } => ImageSignals {
            decode_path: path,
            truncated,
            trimmed: trimmed.map(|(border, t)| TrimmedSignals {
                border,
                pdq: t.signal,
                dihedral: t.dihedral(),
            }),
            ..signals_of(&out, width, height, format)
        },
    })
}

/// The EXIF tag and the dihedral transform taking the stored pixels to the displayed ones;
/// `None` for orientation 1.
pub(crate) fn displayed_transform(o: image::metadata::Orientation) -> Option<(u8, Orientation)> {
    use image::metadata::Orientation as Exif;
    let d = match o {
        Exif::NoTransforms => return None,
        // Measured on aaa-orig stored each way (tests/tolerance.rs): the reference's "flipy"
        // mirrors left-right, its "rot90" turns counter-clockwise.
        Exif::FlipHorizontal => Orientation::FlipY,
        Exif::Rotate180 => Orientation::Rotate180,
        Exif::FlipVertical => Orientation::FlipX,
        Exif::Rotate90FlipH => Orientation::FlipPlus1,
        Exif::Rotate90 => Orientation::Rotate270,
        Exif::Rotate270FlipH => Orientation::FlipMinus1,
        Exif::Rotate270 => Orientation::Rotate90,
    };
    Some((o.to_exif(), d))
}

/// Every signal of one piece of content.
#[derive(Debug)]
pub struct ContentSignals {
    pub digests: ExactDigests,
    /// `None` when the content is not an image; otherwise the image signals or why there are none.
    pub image: Option<Result<ImageSignals, SignalError>>,
}

/// Reads `reader` to the end once: MD5, SHA-1 and SHA-256 always (streamed, constant memory); when the
/// first bytes say image, the content is also held (up to `opts.limits.max_bytes`) and hashed
/// with PDQ. The bytes are dropped before returning.
pub fn hash_reader(mut reader: impl Read, opts: &ImageOptions) -> io::Result<ContentSignals> {
    let mut digester = Digester::new();
    // The first bytes, enough to recognise every supported format.
    let mut head = Vec::with_capacity(64);
    (&mut reader).take(64).read_to_end(&mut head)?;
    digester.update(&head);
    let mut chunk = vec![0u8; CHUNK];
    if sniff_format(&head).is_none() {
        digester.update_from(&mut reader, &mut chunk)?;
        return Ok(ContentSignals {
            digests: digester.finish(),
            image: None,
        });
    }
    let max = opts.limits.max_bytes;
    let mut content = head;
    loop {
        let n = read_retrying(&mut reader, &mut chunk)?;
        if n == 0 {
            break;
        }
        digester.update(&chunk[..n]);
        if (content.len() + n) as u64 > max {
            // Over the limit: stop holding bytes, finish the digests.
            drop(content);
            digester.update_from(&mut reader, &mut chunk)?;
            let digests = digester.finish();
            return Ok(ContentSignals {
                image: Some(Err(SignalError::TooLarge(format!(
                    "{} bytes is over the limit of {max} bytes",
                    digests.size
                )))),
                digests,
            });
        }
        content.extend_from_slice(&chunk[..n]);
    }
    let image = Some(hash_image_bytes(&content, opts));
    drop(content);
    Ok(ContentSignals {
        digests: digester.finish(),
        image,
    })
}
