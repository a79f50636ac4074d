//! From bytes or a reader to every signal: exact digests always, PDQ (with dihedral and trimmed
//! variants) when the content is an image.

use std::cell::RefCell;
use std::io::{self, Read};

use crate::decode::{decode, sniff_format, DecodeLimits, DecodedImage};
use crate::digest::{read_retrying, Digester, ExactDigests, CHUNK};
use crate::trim::{crop, find_border, Border};
use crate::{PdqHash, PdqHasher, PdqSignal, SignalError};

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

/// The perceptual signals of one image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageSignals {
    pub width: u32,
    pub height: u32,
    pub format: image::ImageFormat,
    /// The reference PDQ hash and quality.
    pub pdq: PdqSignal,
    /// The eight dihedral hashes in reference order; `[0]` equals `pdq.hash`.
    pub dihedral: [PdqHash; 8],
    /// Present when a uniform border was found (and trimming is on).
    pub trimmed: Option<TrimmedSignals>,
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
            width: img.width,
            height: img.height,
            format: img.format,
            pdq: out.signal,
            dihedral: out.dihedral(),
            trimmed,
        }
    })
}

/// Decodes and hashes one image held in memory.
pub fn hash_image_bytes(bytes: &[u8], opts: &ImageOptions) -> Result<ImageSignals, SignalError> {
    let img = decode(bytes, &opts.limits, opts.exif_orient)?;
    let signals = hash_decoded(&img, opts.trim);
    crate::decode::recycle(img);
    Ok(signals)
}

/// Every signal of one piece of content.
#[derive(Debug)]
pub struct ContentSignals {
    pub digests: ExactDigests,
    /// `None` when the content is not an image; otherwise the image signals or why there are none.
    pub image: Option<Result<ImageSignals, SignalError>>,
}

/// Reads `reader` to the end once: MD5 and SHA-256 always (streamed, constant memory); when the
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
