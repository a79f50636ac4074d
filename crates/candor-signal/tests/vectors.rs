//! The PDQ reference vectors (`testdata/pdq/pdq-vectors.tsv`).
use candor_signal::decode::{decode, DecodeLimits};
use candor_signal::{PdqHash, PdqHasher};
use std::path::PathBuf;

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/pdq")
}

struct Row {
    file: String,
    width: u32,
    height: u32,
    pdq: PdqHash,
    quality: u8,
    dihedral: [PdqHash; 8],
}

fn rows() -> Vec<Row> {
    let text = std::fs::read_to_string(testdata().join("pdq-vectors.tsv"))
        .expect("testdata/pdq/pdq-vectors.tsv present");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Row {
                file: f[0].to_string(),
                width: f[1].parse().unwrap(),
                height: f[2].parse().unwrap(),
                pdq: f[3].parse().unwrap(),
                quality: f[4].parse().unwrap(),
                dihedral: std::array::from_fn(|i| f[5 + i].parse().unwrap()),
            }
        })
        .collect()
}

/// Inputs whose decoded pixels equal Pillow's, so the hash must be bit-exact: lossless formats;
/// with libjpeg-turbo (Pillow's JPEG decoder), JPEGs too, except CMYK (another conversion path).
fn exact(file: &str) -> bool {
    file.ends_with(".png")
        || (cfg!(feature = "turbojpeg") && file.ends_with(".jpg") && !file.contains("CMYK"))
}

#[test]
fn vectors() {
    let mut hasher = PdqHasher::new();
    let mut lossy_distances = Vec::new();
    let mut checked_lossless = 0;
    for row in rows() {
        let bytes = std::fs::read(testdata().join("images").join(&row.file)).unwrap();
        let img = decode(&bytes, &DecodeLimits::default(), false).unwrap();
        assert_eq!(
            (img.width, img.height),
            (row.width, row.height),
            "{}",
            row.file
        );
        let out = hasher.hash(img.pixels(), img.width as usize, img.height as usize);
        let dihedral = out.dihedral();
        if exact(&row.file) {
            assert_eq!(out.signal.hash, row.pdq, "{}", row.file);
            assert_eq!(out.signal.quality, row.quality, "{}", row.file);
            assert_eq!(dihedral, row.dihedral, "{}", row.file);
            checked_lossless += 1;
        } else {
            let d = out.signal.hash.distance(&row.pdq);
            let worst_dihedral = (0..8)
                .map(|i| dihedral[i].distance(&row.dihedral[i]))
                .max()
                .unwrap();
            lossy_distances.push((
                row.file.clone(),
                d,
                worst_dihedral,
                out.signal.quality,
                row.quality,
            ));
        }
    }
    println!("images checked bit-exact: {checked_lossless}");
    let mut hist = [0usize; 257];
    for (file, d, dd, q, rq) in &lossy_distances {
        println!("lossy {file}: distance {d}, worst dihedral {dd}, quality {q} (reference {rq})");
        hist[*d as usize] += 1;
    }
    println!(
        "lossy distance distribution: {:?}",
        hist.iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .collect::<Vec<_>>()
    );
    let expected = if cfg!(feature = "turbojpeg") { 55 } else { 20 };
    assert!(
        checked_lossless >= expected,
        "{checked_lossless} exact checks"
    );
    for (file, d, dd, q, rq) in &lossy_distances {
        // JPEG and lossy WebP decoders differ slightly: within 6 bits, quality within ±1. The
        // dihedral hashes too, for images of usable quality (≥ 50, the usual floor); a flat,
        // low-quality image (q0003: quality 3) has its DCT values bunched at the median.
        assert!(*d <= 6, "{file}: distance {d}");
        if *rq >= 50 {
            assert!(*dd <= 6, "{file}: dihedral distance {dd}");
        }
        assert!(
            (*q as i32 - *rq as i32).abs() <= 1,
            "{file}: quality {q} vs {rq}"
        );
    }
}
