//! The digest index against a map model: inserts (with duplicate digests), removals,
//! compaction, save and load.
use candor_index::{EntryId, EntryRef, Md5Index, Sha1Index, Sha256Index};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Insert(u8),
    Remove(prop::sample::Index),
    Compact,
    Reload,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..40).prop_map(Op::Insert),
        2 => any::<prop::sample::Index>().prop_map(Op::Remove),
        1 => Just(Op::Compact),
        1 => Just(Op::Reload),
    ]
}

fn digest(k: u8) -> [u8; 32] {
    let mut d = [k; 32];
    d[31] = k.wrapping_mul(7);
    d
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn sha256_index_matches_model(ops in prop::collection::vec(op(), 0..200)) {
        let mut index = Sha256Index::new();
        let mut model: Vec<(u8, bool)> = Vec::new();
        for op in ops {
            match op {
                Op::Insert(k) => {
                    let r = EntryRef { bank: u32::from(k % 3), content: model.len() as u64 * 10 };
                    let id = index.insert(digest(k), r);
                    prop_assert_eq!(id, EntryId(model.len() as u32));
                    model.push((k, true));
                }
                Op::Remove(i) if !model.is_empty() => {
                    let i = i.index(model.len());
                    prop_assert_eq!(index.remove(EntryId(i as u32)), model[i].1);
                    model[i].1 = false;
                }
                Op::Remove(_) => {}
                Op::Compact => index.compact(),
                Op::Reload => {
                    let bytes = index.write_to(Vec::new()).unwrap();
                    index = Sha256Index::read_from(&bytes[..]).unwrap();
                }
            }
            for k in 0u8..40 {
                let want: Vec<EntryId> = model
                    .iter()
                    .enumerate()
                    .filter(|(_, (d, live))| *d == k && *live)
                    .map(|(i, _)| EntryId(i as u32))
                    .collect();
                let mut got = index.get(&digest(k));
                got.sort();
                prop_assert_eq!(got, want);
            }
            prop_assert_eq!(index.len(), model.iter().filter(|m| m.1).count());
        }
        for (i, (k, _)) in model.iter().enumerate() {
            let id = EntryId(i as u32);
            prop_assert_eq!(index.digest(id), Some(digest(*k)));
            prop_assert_eq!(index.entry_ref(id).map(|r| r.content), Some(i as u64 * 10));
        }
    }

    #[test]
    fn md5_files_refuse_damage(n in 0usize..100, cut in any::<prop::sample::Index>(), at in any::<prop::sample::Index>()) {
        let index = Md5Index::build((0..n).map(|i| ([i as u8; 16], EntryRef { bank: 0, content: i as u64 })));
        let bytes = index.write_to(Vec::new()).unwrap();
        prop_assert!(Md5Index::read_from(&bytes[..cut.index(bytes.len())]).is_err());
        let mut bad = bytes.clone();
        bad[at.index(bytes.len())] ^= 0x41;
        prop_assert!(Md5Index::read_from(&bad[..]).is_err());
        let back = Md5Index::read_from(&bytes[..]).unwrap();
        for i in 0..n {
            prop_assert_eq!(back.get(&[i as u8; 16]), vec![EntryId(i as u32)]);
        }
    }
}

#[test]
fn sha1_index_round_trips_and_refuses_other_kinds() {
    let mut index = Sha1Index::build((0..50u8).map(|i| {
        (
            [i; 20],
            EntryRef {
                bank: 1,
                content: u64::from(i),
            },
        )
    }));
    index.insert(
        [7; 20],
        EntryRef {
            bank: 2,
            content: 99,
        },
    );
    let bytes = index.write_to(Vec::new()).unwrap();
    let back = Sha1Index::read_from(&bytes[..]).unwrap();
    assert_eq!(back.get(&[7; 20]).len(), 2);
    assert_eq!(back.get(&[60; 20]), Vec::<EntryId>::new());
    assert_eq!(back.len(), 51);
    // A SHA-1 file is not an MD5 or SHA-256 file, nor the other way round.
    let e = Sha256Index::read_from(&bytes[..]).unwrap_err().to_string();
    assert!(e.contains("SHA-1"), "{e}");
    let md5 = Md5Index::build([(
        [1; 16],
        EntryRef {
            bank: 0,
            content: 0,
        },
    )]);
    assert!(Sha1Index::read_from(&md5.write_to(Vec::new()).unwrap()[..]).is_err());
}
