//! Dates as the API wants them (`YYYY-MM-DD`), from the caller's RFC 3339 UTC `now`.

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Whether `s` is a real calendar date written `YYYY-MM-DD`.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(y), Some(m), Some(d)) = (digits(&s[0..4]), digits(&s[5..7]), digits(&s[8..10]))
    else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// The date part of an RFC 3339 UTC timestamp (`YYYY-MM-DDTHH:MM:SS[.frac](Z|+00:00)`), or `None`.
pub fn utc_date(now: &str) -> Option<&str> {
    if now.len() < 20 || !now.is_char_boundary(10) {
        return None;
    }
    let (date, rest) = now.split_at(10);
    if !is_date(date) {
        return None;
    }
    let rest = rest.strip_prefix(['T', 't'])?;
    let rest = rest
        .strip_suffix(['Z', 'z'])
        .or_else(|| rest.strip_suffix("+00:00"))?;
    let (hms, frac) = match rest.split_once('.') {
        Some((h, f)) => (h, Some(f)),
        None => (rest, None),
    };
    let hb = hms.as_bytes();
    if hb.len() != 8 || hb[2] != b':' || hb[5] != b':' {
        return None;
    }
    let (h, m, s) = (
        digits(&hms[0..2])?,
        digits(&hms[3..5])?,
        digits(&hms[6..8])?,
    );
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    if let Some(f) = frac {
        digits(f)?;
    }
    Some(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!(is_date("2024-02-29"));
        assert!(!is_date("2023-02-29"));
        assert!(!is_date("1900-02-29"));
        assert!(is_date("2000-02-29"));
        assert!(!is_date("2024-13-01"));
        assert!(!is_date("2024-1-01"));
        assert!(!is_date("2024-01-00"));
        assert_eq!(utc_date("2026-11-23T14:10:18Z"), Some("2026-11-23"));
        assert_eq!(utc_date("2026-11-23T14:10:18.123456Z"), Some("2026-11-23"));
        assert_eq!(utc_date("2026-11-23T14:10:18+00:00"), Some("2026-11-23"));
        assert_eq!(utc_date("2026-11-23T14:10:18+01:00"), None);
        assert_eq!(utc_date("2026-11-23 14:10:18"), None);
        assert_eq!(utc_date("2026-11-23T24:10:18Z"), None);
        assert_eq!(utc_date("2026-11-23"), None);
        assert_eq!(utc_date("2026-11-23T14:10:18.Z"), None);
    }
}
