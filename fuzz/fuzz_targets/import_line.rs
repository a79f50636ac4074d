//! One line of a bank import (`POST /v1/banks/{bank}/import`):
//! `candor_server::routes::banks::import_line`. Needs `--features server`.
//!
//! Properties: blank and `#` lines are skipped and nothing else is; a signal has the length of
//! its kind (16 bytes for MD5, 32 otherwise), and writing it back as `<kind> <hex>` (and, for
//! PDQ, as bare hex) imports the same signal; an error is a 400 naming the line number.
#![no_main]
use candor_log::entry::SignalKind;
use candor_server::routes::banks::import_line;
use libfuzzer_sys::fuzz_target;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    let n = data.len() + 1;
    match import_line(line, n) {
        Ok(None) => {
            let t = line.trim();
            assert!(t.is_empty() || t.starts_with('#'), "skipped a signal line");
        }
        Ok(Some(sig)) => {
            let t = line.trim();
            assert!(!t.is_empty() && !t.starts_with('#'));
            let want = if sig.kind == SignalKind::Md5 { 16 } else { 32 };
            assert_eq!(sig.value.len(), want);
            assert_eq!(sig.quality, None);
            let again = format!("{} {}", sig.kind.as_str(), hex(&sig.value));
            let back = import_line(&again, 1).expect("own line imports").expect("a signal");
            assert_eq!((back.kind, back.value.as_slice()), (sig.kind, sig.value.as_slice()));
            if sig.kind == SignalKind::Pdq {
                let bare = import_line(&hex(&sig.value), 1).expect("bare PDQ").expect("signal");
                assert_eq!(bare.value, sig.value);
            }
        }
        Err(e) => {
            assert_eq!(e.status.as_u16(), 400);
            assert!(e.message.starts_with(&format!("line {n}: ")), "{}", e.message);
        }
    }
});
