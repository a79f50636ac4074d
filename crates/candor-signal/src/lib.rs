//! Candor signals: bytes to hashes.
//!
//! Pure: no I/O beyond [`std::io::Read`], no async, no knowledge of banks.
//!
//! - [`hash`]: the PDQ hash value, its text form, distance, the eight orientations.
//! - [`pdq`]: the PDQ algorithm, bit-exact with Meta's reference.
//! - [`decode`]: bytes to pixels with limits, Pillow-compatible colour conversion.
//! - [`bounded`]: images over the pixel limit hashed in bounded memory (reduced-scale JPEG,
//!   streamed PNG), truncated PNGs.
//! - [`trim`]: uniform-border detection for the trimmed variant.
//! - [`digest`]: MD5, SHA-1 and SHA-256, streamed.
//! - [`signals`]: everything above from bytes or a reader.
//! - [`vpdq`]: Meta's video hash (PDQ of sampled frames), its text forms; decoding through
//!   FFmpeg with the `video` feature.

pub mod bounded;
pub mod decode;
pub mod digest;
pub mod hash;
pub mod pdq;
pub mod signals;
mod stream;
pub mod trim;
pub mod vpdq;

pub use bounded::{DecodePath, Truncated};
pub use decode::{DecodeLimits, DecodedImage};
pub use digest::ExactDigests;
pub use hash::{Orientation, PdqHash, PdqSignal};
pub use pdq::{PdqHasher, PdqOutput, PdqStream, Pixels};
pub use signals::{
    hash_decoded, hash_image_bytes, hash_reader, ContentSignals, DisplayedSignal, ImageOptions,
    ImageSignals, TrimmedSignals,
};
pub use trim::Border;
#[cfg(feature = "video")]
pub use vpdq::hash_video;
pub use vpdq::{VideoError, VideoLimits, VpdqFeature, VpdqOptions};

/// Everything that can go wrong turning bytes into signals.
#[derive(Debug)]
pub enum SignalError {
    /// A hash's text form is malformed.
    BadHash(String),
    /// The content is not in a format Candor decodes.
    NotAnImage,
    /// The content is over a decode limit (size, pixels, dimensions or memory).
    TooLarge(String),
    /// The content claims to be an image but cannot be decoded (corrupt, unsupported, or cut
    /// before its first row).
    Decode(String),
    /// An image that is not hashed because hashing it would take more memory or time than the
    /// limits allow: past `max_stream_pixels` / `max_stream_dimension` (far beyond what viewers
    /// render, or a decompression bomb), or needing more than `max_alloc` in a decoder that
    /// cannot stream. Distinct from `TooLarge` (over `max_bytes`, or `decode`'s own pixel
    /// limit), which `hash_image_bytes` never returns for pixel counts.
    Unhashable { reason: String },
}

impl SignalError {
    /// An image we could not hash (as opposed to content that is not an image, or a bad hash
    /// text): `TooLarge`, `Decode` or `Unhashable`. What a service routes to its `unhashable`
    /// policy.
    pub fn is_unhashable(&self) -> bool {
        matches!(
            self,
            SignalError::TooLarge(_) | SignalError::Decode(_) | SignalError::Unhashable { .. }
        )
    }
}

impl std::fmt::Display for SignalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignalError::BadHash(m) => write!(f, "bad hash: {m}"),
            SignalError::NotAnImage => {
                f.write_str("not an image in a supported format (JPEG, PNG, GIF, WebP, BMP, TIFF)")
            }
            SignalError::TooLarge(m) => write!(f, "image over a decode limit: {m}"),
            SignalError::Decode(m) => write!(f, "image cannot be decoded: {m}"),
            SignalError::Unhashable { reason } => write!(f, "image cannot be hashed: {reason}"),
        }
    }
}

impl std::error::Error for SignalError {}
