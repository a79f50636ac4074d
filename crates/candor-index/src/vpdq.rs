//! [`VpdqIndex`]: Meta's vPDQ video matching over many videos, exactly.
//!
//! A vPDQ hash is a list of frame features (a PDQ hash per sampled frame, its quality, frame
//! number and timestamp). The semantics are those of python-threatexchange's `VPDQIndex`
//! (`extensions/vpdq/vpdq_index.py`, what HMA's `vpdq` signal type matches banks with):
//!
//! * Each side is *prepared*: frames with quality below the quality threshold (default 50) are
//!   dropped, then frames with an identical PDQ hash are kept once ("unique frames";
//!   `prepare_vpdq_feature`: quality filter, then dedupe).
//! * A frame of one side matches the other side when some prepared frame there is within PDQ
//!   distance 31, inclusive (`range_search(q, 31 + 1)`).
//! * Query-matched % = prepared query frames that match the video × 100 / prepared query
//!   frames; compared-matched % = prepared frames of the video that match the query × 100 /
//!   prepared frames of the video (`count * 100 / len`, one IEEE division, as Python computes
//!   it). A video matches when both reach their thresholds (`>=`; defaults 80 % each here, the
//!   issue's bank default; HMA's own index defaults the compared threshold to 0 %) and at least
//!   one frame matched: a video no frame of the query comes near is never a result, even at
//!   thresholds of 0 (HMA's `test_no_match_with_zero_threshold`).
//! * A video with no frame left after preparation cannot be inserted (HMA raises "Empty video
//!   after deduping/filtering should not be indexed"); a query with none matches nothing.
//! * Frame numbers and timestamps do not take part (vpdq's matchers ignore them).
//!
//! Two reference matchers differ from the index in corners, and this module follows the index:
//! `vpdq_brute_matcher.match_VPDQ_hash_brute` dedupes *before* the quality filter (a hash whose
//! first frame is below the threshold is dropped even when a later identical one is not), and
//! the C++ `matchTwoHashBrute` does not dedupe and counts distances `< tolerance`.
//!
//! The index keeps one [`PdqIndex`] entry per (video, unique frame whose best quality reaches
//! the index's quality floor), whose [`EntryRef`] is `{ bank: video id, content: position in
//! the video }`. A query searches each prepared query frame in it (exact radius search), maps
//! the hits to their videos, groups them by video and computes both percentages only for the
//! videos hit: its cost grows with the frames near the query, not with the number of videos.
//!
//! Dihedral queries ([`VpdqIndex::search_dihedral`]) pass the eight PDQ hashes of each query
//! frame (reference order, the first the frame as decoded). A query frame matches a video when
//! any of its eight hashes is within the distance of one of the video's frames; a frame of the
//! video matches when it is within the distance of any hash of any query frame. Query frames
//! are deduplicated by their first hash. With only the first hash of each frame this is
//! exactly [`VpdqIndex::search`].
use crate::hash::{EntryId, EntryRef, Hash256};
use crate::pdq::{BuildOptions, PdqIndex};
use std::fmt;

/// vpdq's frame distance threshold (inclusive).
pub const VPDQ_DISTANCE: u32 = 31;
/// vpdq's frame quality threshold (a frame counts when its quality is at least this).
pub const VPDQ_QUALITY: u8 = 50;
/// The default query-matched and compared-matched percentage thresholds.
pub const VPDQ_MATCH_PERCENT: f64 = 80.0;

/// One frame feature of a vPDQ hash.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VpdqFrame {
    pub hash: Hash256,
    /// PDQ quality, 0..=100.
    pub quality: u8,
    /// Frame number in the video (not used for matching).
    pub frame: u32,
    /// Seconds from the start (not used for matching).
    pub timestamp: f64,
}

/// One query frame of a dihedral search: its eight PDQ hashes (reference order, the frame as
/// decoded first) and its quality.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VpdqDihedralFrame {
    pub hashes: [Hash256; 8],
    pub quality: u8,
}

/// A video of a [`VpdqIndex`]: its insertion position, stable forever (never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VideoId(pub u32);

/// The thresholds of one query (a bank's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VpdqQuery {
    /// Frame distance threshold, inclusive (default 31).
    pub distance: u32,
    /// Frame quality threshold on both sides (default 50); at least the index's floor.
    pub quality: u8,
    /// Query-matched percentage a video needs, 0..=100 (default 80).
    pub query_match_percent: f64,
    /// Compared-matched percentage a video needs, 0..=100 (default 80).
    pub compared_match_percent: f64,
}

impl Default for VpdqQuery {
    fn default() -> Self {
        VpdqQuery {
            distance: VPDQ_DISTANCE,
            quality: VPDQ_QUALITY,
            query_match_percent: VPDQ_MATCH_PERCENT,
            compared_match_percent: VPDQ_MATCH_PERCENT,
        }
    }
}

/// A matching video.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VpdqMatch {
    pub video: VideoId,
    /// What the video stands for (given at insertion).
    pub video_ref: EntryRef,
    /// `query_matched * 100 / query_frames`.
    pub query_match_percent: f64,
    /// `compared_matched * 100 / compared_frames`.
    pub compared_match_percent: f64,
    /// Prepared query frames that match the video.
    pub query_matched: u32,
    /// Prepared query frames.
    pub query_frames: u32,
    /// Prepared frames of the video that match the query.
    pub compared_matched: u32,
    /// Prepared frames of the video.
    pub compared_frames: u32,
}

/// Why a video or a query is refused.
#[derive(Clone, Debug, PartialEq)]
pub enum VpdqError {
    /// No frame of the video is left after the quality filter and dedupe.
    NoQualifyingFrames,
    /// A frame's quality is above 100.
    Quality { frame: usize, quality: u8 },
    /// The query's quality threshold is above 100 or below the index's floor (frames below
    /// the floor are not indexed).
    QualityThreshold { asked: u8, floor: u8 },
    /// A percentage threshold is not a number in 0..=100.
    Percent(f64),
    /// The index cannot hold more frames or videos (`u32` ids).
    Full,
}

impl fmt::Display for VpdqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VpdqError::NoQualifyingFrames => {
                f.write_str("the video has no frame of sufficient quality to match with")
            }
            VpdqError::Quality { frame, quality } => write!(
                f,
                "frame {} has quality {quality} (expected 0..=100)",
                frame + 1
            ),
            VpdqError::QualityThreshold { asked, floor } => write!(
                f,
                "quality threshold {asked} is outside {floor}..=100 (this index holds frames of quality {floor} and up)"
            ),
            VpdqError::Percent(p) => write!(f, "match percentage {p} is outside 0..=100"),
            VpdqError::Full => f.write_str("the vPDQ index is full"),
        }
    }
}

impl std::error::Error for VpdqError {}

#[derive(Clone, Copy, Debug)]
struct Video {
    r: EntryRef,
    /// First frame entry (the video's entries are `first..first + len`).
    first: u32,
    len: u32,
    removed: bool,
}

/// vPDQ matching over many videos (see the [module](self) for the semantics).
///
/// Videos are inserted and removed one at a time (a bank change) and match at once; their
/// frames are pending in the frame index until [`compact_pending`](Self::compact_pending) or
/// [`compact`](Self::compact) (as for [`PdqIndex`]; call `compact_pending` when
/// [`needs_compaction`](Self::needs_compaction) says so).
#[derive(Clone, Debug)]
pub struct VpdqIndex {
    /// One entry per (video, unique frame), `EntryRef { bank: video id, content: position }`.
    frames: PdqIndex,
    /// Per frame entry: the best quality among the video's frames with that hash.
    quality: Vec<u8>,
    videos: Vec<Video>,
    live: usize,
    live_frames: usize,
    floor: u8,
}

impl Default for VpdqIndex {
    fn default() -> Self {
        VpdqIndex::new()
    }
}

impl VpdqIndex {
    /// An empty index holding frames of quality 50 and up (vpdq's threshold).
    pub fn new() -> VpdqIndex {
        VpdqIndex::with_options(VPDQ_QUALITY, BuildOptions::default())
    }

    /// An empty index holding frames of quality `floor` and up (queries may ask for a higher
    /// quality threshold, not a lower one), its frame index built with `build`.
    pub fn with_options(floor: u8, build: BuildOptions) -> VpdqIndex {
        VpdqIndex {
            frames: PdqIndex::with_options(build),
            quality: Vec::new(),
            videos: Vec::new(),
            live: 0,
            live_frames: 0,
            floor: floor.min(100),
        }
    }

    /// The lowest frame quality the index holds.
    pub fn quality_floor(&self) -> u8 {
        self.floor
    }

    /// Adds a video; it matches from now on. Its frames below the quality floor are left out
    /// and identical hashes are kept once.
    pub fn insert(&mut self, video: EntryRef, frames: &[VpdqFrame]) -> Result<VideoId, VpdqError> {
        check_qualities(frames.iter().map(|f| f.quality))?;
        let mut kept: Vec<(Hash256, u8)> = frames
            .iter()
            .filter(|f| f.quality >= self.floor)
            .map(|f| (f.hash, f.quality))
            .collect();
        // Per hash the best quality first, then one per hash.
        kept.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        kept.dedup_by_key(|k| k.0);
        if kept.is_empty() {
            return Err(VpdqError::NoQualifyingFrames);
        }
        let first = self.frames.capacity_ids();
        if self.videos.len() >= u32::MAX as usize || first + kept.len() >= u32::MAX as usize {
            return Err(VpdqError::Full);
        }
        let id = self.videos.len() as u32;
        for (k, &(hash, q)) in kept.iter().enumerate() {
            self.frames.insert(
                hash,
                EntryRef {
                    bank: id,
                    content: k as u64,
                },
            );
            self.quality.push(q);
        }
        self.videos.push(Video {
            r: video,
            first: first as u32,
            len: kept.len() as u32,
            removed: false,
        });
        self.live += 1;
        self.live_frames += kept.len();
        Ok(VideoId(id))
    }

    /// Removes a video: it stops matching at once. Returns false if it does not exist or was
    /// already removed.
    pub fn remove(&mut self, id: VideoId) -> bool {
        let Some(v) = self.videos.get_mut(id.0 as usize) else {
            return false;
        };
        if v.removed {
            return false;
        }
        v.removed = true;
        for e in v.first..v.first + v.len {
            self.frames.remove(EntryId(e));
        }
        self.live -= 1;
        self.live_frames -= v.len as usize;
        true
    }

    /// Live videos.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Unique frames of the live videos held (what the frame index searches).
    pub fn frame_count(&self) -> usize {
        self.live_frames
    }

    /// What a video stands for, if it exists and is not removed.
    pub fn video_ref(&self, id: VideoId) -> Option<EntryRef> {
        self.videos
            .get(id.0 as usize)
            .filter(|v| !v.removed)
            .map(|v| v.r)
    }

    /// Unique frames a video holds (of quality at least the floor), if it is live.
    pub fn video_frames(&self, id: VideoId) -> Option<usize> {
        self.videos
            .get(id.0 as usize)
            .filter(|v| !v.removed)
            .map(|v| v.len as usize)
    }

    /// Rebuilds the frame index's tables over every live frame ([`PdqIndex::compact`]).
    pub fn compact(&mut self) {
        self.frames.compact();
    }

    /// Builds the pending frames into tables ([`PdqIndex::compact_pending`]).
    pub fn compact_pending(&mut self) {
        self.frames.compact_pending();
    }

    /// Whether queries would be faster after [`compact_pending`](Self::compact_pending).
    pub fn needs_compaction(&self) -> bool {
        self.frames.needs_compaction()
    }

    /// The frame index (one entry per video and unique frame).
    pub fn frame_index(&self) -> &PdqIndex {
        &self.frames
    }

    /// Heap bytes held (the frame index, per-frame qualities, the video table).
    pub fn memory_bytes(&self) -> usize {
        self.frames.memory_bytes()
            + self.quality.capacity()
            + self.videos.capacity() * std::mem::size_of::<Video>()
    }

    /// The videos `query` matches under `opts`, best first: by query-matched %, then
    /// compared-matched % (both descending), then video id.
    pub fn search(
        &self,
        query: &[VpdqFrame],
        opts: &VpdqQuery,
    ) -> Result<Vec<VpdqMatch>, VpdqError> {
        self.run(
            query,
            opts,
            |f| (f.hash, f.quality),
            |f| {
                let near = self.frames.search(&f.hash, opts.distance);
                near.into_iter().map(|m| m.entry).collect()
            },
        )
    }

    /// [`search`](Self::search) with the eight dihedral hashes of each query frame (see the
    /// [module](self) for how a frame counts as matched).
    pub fn search_dihedral(
        &self,
        query: &[VpdqDihedralFrame],
        opts: &VpdqQuery,
    ) -> Result<Vec<VpdqMatch>, VpdqError> {
        self.run(
            query,
            opts,
            |f| (f.hashes[0], f.quality),
            |f| {
                let near = self.frames.search_dihedral(&f.hashes, opts.distance);
                near.into_iter().map(|m| m.entry).collect()
            },
        )
    }

    /// Prepares the query frames (`key`: the hash they are deduplicated by and their quality;
    /// the quality filter, then one per hash, as vpdq's `prepare_vpdq_feature`), finds the
    /// frame entries `near` each, and decides per video hit.
    fn run<T>(
        &self,
        query: &[T],
        opts: &VpdqQuery,
        key: impl Fn(&T) -> (Hash256, u8),
        near: impl Fn(&T) -> Vec<EntryId>,
    ) -> Result<Vec<VpdqMatch>, VpdqError> {
        self.check_query(opts)?;
        check_qualities(query.iter().map(|f| key(f).1))?;
        let mut frames: Vec<&T> = query.iter().filter(|f| key(f).1 >= opts.quality).collect();
        // Stable: the first of identical frames is kept.
        frames.sort_by_key(|f| key(f).0);
        frames.dedup_by_key(|f| key(f).0);
        let mut hits = Vec::new();
        for (qi, f) in frames.iter().enumerate() {
            for e in near(f) {
                if self.quality[e.0 as usize] < opts.quality {
                    continue;
                }
                if let Some(r) = self.frames.entry_ref(e) {
                    hits.push((r.bank, qi as u32, e.0));
                }
            }
        }
        Ok(self.decide(hits, frames.len(), opts))
    }

    fn check_query(&self, opts: &VpdqQuery) -> Result<(), VpdqError> {
        if opts.quality < self.floor || opts.quality > 100 {
            return Err(VpdqError::QualityThreshold {
                asked: opts.quality,
                floor: self.floor,
            });
        }
        for p in [opts.query_match_percent, opts.compared_match_percent] {
            if !(0.0..=100.0).contains(&p) {
                return Err(VpdqError::Percent(p));
            }
        }
        Ok(())
    }

    /// Groups the hits by video and applies the thresholds.
    fn decide(
        &self,
        mut hits: Vec<(u32, u32, u32)>,
        query_frames: usize,
        opts: &VpdqQuery,
    ) -> Vec<VpdqMatch> {
        hits.sort_unstable();
        let mut out = Vec::new();
        let mut entries: Vec<u32> = Vec::new();
        for group in hits.chunk_by(|a, b| a.0 == b.0) {
            let v = &self.videos[group[0].0 as usize];
            let mut query_matched = 0u32;
            let mut last = None;
            entries.clear();
            for &(_, qi, e) in group {
                if last != Some(qi) {
                    query_matched += 1;
                    last = Some(qi);
                }
                entries.push(e);
            }
            entries.sort_unstable();
            entries.dedup();
            let compared_matched = entries.len() as u32;
            let compared_frames = if opts.quality == self.floor {
                v.len
            } else {
                let q = &self.quality[v.first as usize..(v.first + v.len) as usize];
                q.iter().filter(|&&q| q >= opts.quality).count() as u32
            };
            let query_frames = query_frames as u32;
            let m = VpdqMatch {
                video: VideoId(group[0].0),
                video_ref: v.r,
                query_match_percent: percent(query_matched, query_frames),
                compared_match_percent: percent(compared_matched, compared_frames),
                query_matched,
                query_frames,
                compared_matched,
                compared_frames,
            };
            if m.query_match_percent >= opts.query_match_percent
                && m.compared_match_percent >= opts.compared_match_percent
            {
                out.push(m);
            }
        }
        out.sort_by(|a, b| {
            (b.query_match_percent.total_cmp(&a.query_match_percent))
                .then(
                    b.compared_match_percent
                        .total_cmp(&a.compared_match_percent),
                )
                .then(a.video.cmp(&b.video))
        });
        out
    }
}

/// `count * 100 / total` as Python's `int * 100 / int` computes it (exact integers, one
/// correctly rounded division).
pub fn percent(count: u32, total: u32) -> f64 {
    (u64::from(count) * 100) as f64 / f64::from(total)
}

fn check_qualities(qualities: impl Iterator<Item = u8>) -> Result<(), VpdqError> {
    for (frame, quality) in qualities.enumerate() {
        if quality > 100 {
            return Err(VpdqError::Quality { frame, quality });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_is_pythons_true_division() {
        // Python: 2 * 100 / 3, 1 * 100 / 3, 7 * 100 / 9, 8 * 100 / 10.
        assert_eq!(percent(2, 3).to_bits(), 66.66666666666667f64.to_bits());
        assert_eq!(percent(1, 3).to_bits(), 33.333333333333336f64.to_bits());
        assert_eq!(percent(7, 9).to_bits(), 77.77777777777777f64.to_bits());
        assert_eq!(percent(8, 10), 80.0);
        assert_eq!(percent(u32::MAX, u32::MAX), 100.0);
    }
}
