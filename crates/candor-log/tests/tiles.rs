//! tlog-tiles: paths, tile sets, tile contents, authenticated reads, entry bundles, tampering.

use std::collections::BTreeMap;

use candor_log::stored::{prove_consistency, prove_inclusion, tree_hash, HashReader};
use candor_log::tile::{
    encode_entry_bundle, encode_index, hash_from_tile, parse_entry_bundle, parse_path,
    read_tile_data, tile_for_index, tiles_for_size, TilePath,
};
use candor_log::{Hash, LogError, StoredHashes, Tile, TileHashReader, TileReader};
use proptest::prelude::*;

fn tile(level: u8, index: u64, width: u16) -> Tile {
    Tile::new(level, index, width).unwrap()
}

#[test]
fn paths_of_known_coordinates() {
    assert_eq!(tile(1, 1_234_067, 256).path(), "tile/1/x001/x234/067");
    assert_eq!(tile(0, 1_234_067, 8).path(), "tile/0/x001/x234/067.p/8");
    assert_eq!(
        tile(0, 1_234_067, 256).entries_path(),
        "tile/entries/x001/x234/067"
    );
    assert_eq!(tile(0, 5, 255).entries_path(), "tile/entries/005.p/255");
    assert_eq!(tile(0, 0, 256).path(), "tile/0/000");
    assert_eq!(tile(63, 999, 1).path(), "tile/63/999.p/1");
    assert_eq!(encode_index(1000), "x001/000");
    assert_eq!(encode_index(u64::MAX), "x018/x446/x744/x073/x709/x551/615");
    assert_eq!(
        parse_path("tile/1/x001/x234/067").unwrap(),
        TilePath::Hashes(tile(1, 1_234_067, 256))
    );
    assert_eq!(
        parse_path("tile/entries/x001/x234/067.p/8").unwrap(),
        TilePath::Entries(tile(0, 1_234_067, 8))
    );
    assert_eq!(
        parse_path("tile/entries/x018/x446/x744/x073/x709/x551/615").unwrap(),
        TilePath::Entries(tile(0, u64::MAX, 256))
    );
    for bad in [
        "tile/0/5",
        "tile/0/0005",
        "tile/0/x000/005",
        "tile/0/x1/005",
        "tile/0/001/002",
        "tile/00/000",
        "tile/64/000",
        "tile/-1/000",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/08",
        "tile/0/000.p/",
        "tile/0/000.p",
        "tile/0/x001.p/3/000",
        "tile/0/x018/x446/x744/x073/x709/x551/616",
        "tile/0/x999/x999/x999/x999/x999/x999/999",
        "tile/entries",
        "tile/0/",
        "tiles/0/000",
        "tile/0/000/",
        "tile/0/+01",
        "",
    ] {
        assert!(parse_path(bad).is_err(), "{bad}");
    }
    assert!(Tile::new(64, 0, 1).is_err());
    assert!(Tile::new(0, 0, 0).is_err());
    assert!(Tile::new(0, 0, 257).is_err());
}

#[test]
fn tile_sets_of_the_spec_examples() {
    // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level
    // 0 tile of width 112, one full level 1 tile, one partial level 1 tile of width 17, and one
    // partial level 2 tile of width 1."
    let t = tiles_for_size(0, 70_000);
    let full0 = t.iter().filter(|t| t.level == 0 && t.is_full()).count();
    assert_eq!(full0, 273);
    assert!(t.contains(&tile(0, 273, 112)));
    assert!(t.contains(&tile(1, 0, 256)));
    assert!(t.contains(&tile(1, 1, 17)));
    assert!(t.contains(&tile(2, 0, 1)));
    assert_eq!(t.len(), 273 + 4);
    // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile
    // of width 1."
    assert_eq!(tiles_for_size(0, 256), vec![tile(0, 0, 256), tile(1, 0, 1)]);
    assert!(tiles_for_size(0, 0).is_empty());
    // Growing: only what changed.
    assert_eq!(tiles_for_size(256, 300), vec![tile(0, 1, 44)]);
    assert_eq!(
        tiles_for_size(300, 512),
        vec![tile(0, 1, 256), tile(1, 0, 2)]
    );
    assert!(tiles_for_size(5, 3).is_empty());
    // Partial widths are floor(s / 256^l) mod 256 at every level.
    for s in [1u64, 255, 257, 65_535, 65_536, 16_777_217, u64::MAX] {
        for t in tiles_for_size(s - 1, s).iter().filter(|t| !t.is_full()) {
            let w = (s >> (8 * u32::from(t.level))) % 256;
            assert_eq!(u64::from(t.width), w, "{s} {t:?}");
        }
    }
}

/// Serves tiles of a tree like a log does: any tile, full or partial, sliced from the widest
/// stored one. Optionally with one byte of one tile flipped.
struct Served {
    tiles: BTreeMap<(u8, u64), Vec<u8>>,
}

impl Served {
    fn new(s: &StoredHashes) -> Served {
        let mut tiles = BTreeMap::new();
        for t in tiles_for_size(0, s.size()) {
            tiles.insert((t.level, t.index), read_tile_data(&t, s).unwrap());
        }
        Served { tiles }
    }
}

impl TileReader for Served {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, LogError> {
        tiles
            .iter()
            .map(|t| {
                let d = self
                    .tiles
                    .get(&(t.level, t.index))
                    .ok_or_else(|| LogError::Storage(format!("no {}", t.path())))?;
                let w = usize::from(t.width) * 32;
                if d.len() < w {
                    return Err(LogError::Storage(format!("short {}", t.path())));
                }
                Ok(d[..w].to_vec())
            })
            .collect()
    }
}

fn log(n: u64) -> (StoredHashes, Vec<Vec<u8>>) {
    let mut s = StoredHashes::new();
    let mut entries = Vec::new();
    for i in 0..n {
        let mut e = format!("entry {i}").into_bytes();
        e.truncate(i as usize % 12);
        s.append_entry(&e).unwrap();
        entries.push(e);
    }
    (s, entries)
}

#[test]
fn tile_data_and_hash_from_tile() {
    let (s, _) = log(1000);
    for i in 0..s.hashes().len() as u64 {
        let (t, start, end) = tile_for_index(i);
        let full = Tile::new(t.level, t.index, 256).unwrap();
        let width = tiles_for_size(0, 1000)
            .into_iter()
            .find(|x| x.level == t.level && x.index == t.index);
        let Some(served) = width else { continue };
        let data = read_tile_data(&served, &s).unwrap();
        assert!(end <= data.len() && start < end);
        assert_eq!(
            hash_from_tile(&served, &data, i).unwrap(),
            s.hashes()[i as usize]
        );
        let _ = full;
    }
    // Wrong tile or wrong length is an error.
    let t0 = tile(0, 0, 256);
    let d = read_tile_data(&t0, &s).unwrap();
    assert!(hash_from_tile(&t0, &d[..32 * 255], 0).is_err());
    assert!(hash_from_tile(&tile(0, 1, 256), &d, 0).is_err());
    let invalid = Tile {
        level: 64,
        index: 0,
        width: 1,
    };
    assert!(hash_from_tile(&invalid, &[0; 32], 0).is_err());
    let too_far = tile(0, 9, 256);
    assert!(read_tile_data(&too_far, &s).is_err());
}

#[test]
fn empty_tree_through_tiles() {
    let served = Served {
        tiles: BTreeMap::new(),
    };
    let tr = TileHashReader::new(0, candor_log::empty_root(), &served).unwrap();
    assert_eq!(tree_hash(0, &tr).unwrap(), candor_log::empty_root());
    assert!(tr.read_hashes(&[]).unwrap().is_empty());
    assert!(tr.read_hashes(&[0]).is_err());
    assert!(tr.verify_entry_bundle(0, &[]).is_err());
}

#[test]
fn reads_through_tiles_equal_reads_through_stored_hashes() {
    for n in [1u64, 2, 255, 256, 257, 300, 511, 512, 1000, 65_536 + 300] {
        let (s, _) = log(n);
        let served = Served::new(&s);
        let root = s.root();
        let tr = TileHashReader::new(n, root, &served).unwrap();
        assert_eq!(tree_hash(n, &tr).unwrap(), root);
        let step = (n / 40).max(1);
        for i in (0..n).step_by(step as usize).chain([n - 1]) {
            assert_eq!(
                prove_inclusion(n, i, &tr).unwrap(),
                prove_inclusion(n, i, &s).unwrap(),
                "{n} {i}"
            );
            // Older checkpoints of the same log, read through tiles of that size.
            let m = i + 1;
            let older = TileHashReader::new(m, tree_hash(m, &s).unwrap(), &served).unwrap();
            assert_eq!(tree_hash(m, &older).unwrap(), tree_hash(m, &s).unwrap());
            assert_eq!(
                prove_consistency(n, m, &tr).unwrap(),
                prove_consistency(n, m, &s).unwrap()
            );
        }
        // A wrong root makes every read fail.
        let mut bad = root;
        bad[0] ^= 1;
        let tr = TileHashReader::new(n, bad, &served).unwrap();
        assert!(matches!(tree_hash(n, &tr), Err(LogError::TileMismatch(_))));
        // Out of the tree.
        let tr = TileHashReader::new(n, root, &served).unwrap();
        assert!(tr.read_hashes(&[s.hashes().len() as u64]).is_err());
    }
    assert!(TileHashReader::new(
        u64::MAX,
        [0; 32],
        &Served {
            tiles: BTreeMap::new()
        }
    )
    .is_err());
}

#[test]
fn every_flipped_tile_byte_is_detected() {
    // Small tree: every byte of every tile, with three different flips.
    let (s, _) = log(300);
    let root = s.root();
    let base = Served::new(&s);
    for (&(level, index), data) in &base.tiles {
        let t = tiles_for_size(0, 300)
            .into_iter()
            .find(|t| t.level == level && t.index == index)
            .unwrap();
        for byte in 0..data.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut served = Served {
                    tiles: base.tiles.clone(),
                };
                served.tiles.get_mut(&(level, index)).unwrap()[byte] ^= mask;
                let tr = TileHashReader::new(300, root, &served).unwrap();
                assert!(
                    tr.read_hashes(&t.stored_indexes()).is_err(),
                    "{} byte {byte}",
                    t.path()
                );
            }
        }
    }
}

#[test]
fn flipped_bytes_in_a_three_level_tree_are_detected() {
    let n = 65_536 + 300;
    let (s, _) = log(n);
    let root = s.root();
    let mut served = Served::new(&s);
    let tiles = tiles_for_size(0, n);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for t in tiles
        .iter()
        .filter(|t| t.level > 0 || t.index % 37 == 0 || !t.is_full())
    {
        for _ in 0..4 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let byte = (rng % (u64::from(t.width) * 32)) as usize;
            served.tiles.get_mut(&(t.level, t.index)).unwrap()[byte] ^= 0x10;
            let tr = TileHashReader::new(n, root, &served).unwrap();
            assert!(tr.read_hashes(&t.stored_indexes()).is_err(), "{}", t.path());
            // A proof for a leaf under a level-0 tile needs that tile.
            if t.level == 0 {
                let leaf = t.index * 256;
                assert!(prove_inclusion(n, leaf, &tr).is_err());
            }
            served.tiles.get_mut(&(t.level, t.index)).unwrap()[byte] ^= 0x10;
        }
    }
    let tr = TileHashReader::new(n, root, &served).unwrap();
    assert_eq!(tree_hash(n, &tr).unwrap(), root);
}

#[test]
fn entry_bundles_round_trip_and_verify() {
    let n = 600u64;
    let (s, entries) = log(n);
    let served = Served::new(&s);
    let tr = TileHashReader::new(n, s.root(), &served).unwrap();
    for b in 0..3u64 {
        let lo = (b * 256) as usize;
        let hi = ((b + 1) * 256).min(n) as usize;
        let bundle = encode_entry_bundle(&entries[lo..hi]).unwrap();
        let got = tr.verify_entry_bundle(b, &bundle).unwrap();
        assert_eq!(
            got,
            entries[lo..hi]
                .iter()
                .map(|e| e.as_slice())
                .collect::<Vec<_>>()
        );
        // Every flipped byte is refused.
        for byte in 0..bundle.len() {
            let mut bad = bundle.clone();
            bad[byte] ^= 0x01;
            assert!(
                tr.verify_entry_bundle(b, &bad).is_err(),
                "bundle {b} byte {byte}"
            );
        }
        // Missing, extra and reordered entries are refused.
        assert!(tr
            .verify_entry_bundle(b, &bundle[..bundle.len() - 1])
            .is_err());
        let mut longer = bundle.clone();
        longer.extend_from_slice(&[0, 0]);
        assert!(tr.verify_entry_bundle(b, &longer).is_err());
        let mut swapped: Vec<Vec<u8>> = entries[lo..hi].to_vec();
        swapped.swap(1, 2);
        assert!(tr
            .verify_entry_bundle(b, &encode_entry_bundle(&swapped).unwrap())
            .is_err());
    }
    assert!(tr.verify_entry_bundle(3, &[]).is_err());
    assert!(tr.verify_entry_bundle(u64::MAX, &[]).is_err());
}

#[test]
fn entry_bundle_format() {
    let bundle = encode_entry_bundle(&[b"ab".as_slice(), b"", &[7u8; 300]]).unwrap();
    assert_eq!(&bundle[..6], &[0, 2, b'a', b'b', 0, 0]);
    assert_eq!(&bundle[6..8], &300u16.to_be_bytes());
    assert_eq!(bundle.len(), 8 + 300);
    let parsed = parse_entry_bundle(&bundle).unwrap();
    assert_eq!(parsed, vec![b"ab".as_slice(), b"", &[7u8; 300]]);
    assert!(encode_entry_bundle(&[vec![0u8; 65_536]]).is_err());
    assert!(encode_entry_bundle(&[vec![0u8; 65_535]]).is_ok());
    assert!(encode_entry_bundle(&vec![b"".as_slice(); 257]).is_err());
    assert!(parse_entry_bundle(&[0]).is_err());
    assert!(parse_entry_bundle(&[0, 3, 1, 2]).is_err());
    assert!(parse_entry_bundle(&[0u8; 2 * 257]).is_err());
    assert_eq!(parse_entry_bundle(&[0u8; 2 * 256]).unwrap().len(), 256);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn paths_round_trip(level in 0u8..64, index in any::<u64>(), width in 1u16..=256) {
        let t = Tile::new(level, index, width).unwrap();
        prop_assert_eq!(parse_path(&t.path()).unwrap(), TilePath::Hashes(t));
        let e = Tile::new(0, index, width).unwrap();
        prop_assert_eq!(parse_path(&e.entries_path()).unwrap(), TilePath::Entries(e));
    }

    #[test]
    fn hostile_paths_and_bundles_never_panic(s in "\\PC{0,60}", b in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_path(&s);
        let _ = parse_path(&format!("tile/{s}"));
        if let Ok(entries) = parse_entry_bundle(&b) {
            prop_assert_eq!(encode_entry_bundle(&entries).unwrap(), b);
        }
    }

    #[test]
    fn tile_for_index_is_total(i in any::<u64>()) {
        let _ = tile_for_index(i);
        let _: Hash = [0; 32];
    }
}
