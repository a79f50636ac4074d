//! The repository is the whole project: no code, script or README reads a sibling folder
//! (the team's shared folder next to the checkout) or an absolute path of one particular
//! machine. A fresh clone must pass alone.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Folders that are not the project's source: build output, git's own, data, local state.
const SKIP_DIRS: &[&str] = &[
    "target",
    ".git",
    "testdata",
    "node_modules",
    "candor-data",
    "corpus",
    "artifacts",
];

/// Files the rule covers: code, scripts, build files, and the README (whose tour is run).
fn covered(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    matches!(
        ext,
        "rs" | "sh" | "py" | "lua" | "toml" | "js" | "mjs" | "sql"
    ) || name == "README.md"
        || path.parent().and_then(|p| p.file_name()) == Some(".ci".as_ref())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            let name = e.file_name();
            if !SKIP_DIRS.iter().any(|s| name == *s) {
                walk(&p, out);
            }
        } else if ft.is_file() && covered(&p) {
            out.push(p);
        }
    }
}

#[test]
fn nothing_reads_outside_the_repository() {
    // Built at run time so that this file does not match itself.
    let sibling = ["..", "/shared"].concat();
    let machine_roots: Vec<String> = ["work", "home", "root", "Users"]
        .iter()
        .map(|d| format!("/{d}/"))
        .collect();
    let mut files = Vec::new();
    walk(&root(), &mut files);
    assert!(
        files.len() > 50,
        "walked too few files ({}): is the root right?",
        files.len()
    );
    let mut bad = Vec::new();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let hit = line.contains(&sibling)
                || machine_roots
                    .iter()
                    .any(|r| line.contains(&format!("\"{r}")) || line.contains(&format!(" {r}")));
            if hit {
                bad.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "paths outside the repository:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_test_data_is_in_the_repository() {
    let pdq = root().join("testdata/pdq");
    for f in [
        "pdq-vectors.tsv",
        "needles.txt",
        "haystack.txt",
        "README.md",
        "LICENSE-reference-images",
    ] {
        assert!(pdq.join(f).is_file(), "testdata/pdq/{f} missing");
    }
    let vectors = std::fs::read_to_string(pdq.join("pdq-vectors.tsv")).unwrap();
    for row in vectors.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let file = row.split('\t').next().unwrap();
        assert!(
            pdq.join("images").join(file).is_file(),
            "vector image {file} missing"
        );
    }
}
