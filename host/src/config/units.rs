//! Human-friendly units for configuration values.
//!
//! Durations use humantime (`"2s"`, `"1m 30s"`, `"250ms"`) and sizes use
//! bytesize (`"64MiB"`, `"1 MB"`, or a plain byte count). Wrapping both here
//! gives every config source (manifest, command line, daemon config) the same
//! syntax and the same error wording.

use std::time::Duration;

/// Parses a duration such as `"2s"`, `"250ms"` or `"1m 30s"`.
///
/// The error says what was wrong and shows an example of what is accepted.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}); write it like \"2s\" or \"250ms\""))
}

/// Parses a size in bytes such as `"64MiB"`, `"1 MB"` or `"1048576"`.
///
/// Binary (`KiB`, `MiB`, `GiB`) and decimal (`KB`, `MB`, `GB`) units are
/// accepted, case-insensitively. Fractions are allowed (`"1.5MiB"`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(format!("`{text}` is negative; a size must be positive"));
    }
    trimmed
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|e| format!("`{text}` is not a size ({e}); write it like \"64MiB\" or \"512KiB\""))
}

/// Formats a byte count with binary units (`"64.0 MiB"`), for messages.
pub fn format_size(bytes: u64) -> String {
    bytesize::ByteSize::b(bytes).display().iec().to_string()
}

/// Formats a bound the way a config writes it (`"64KiB"`, `"4GiB"`): in
/// the largest binary unit that divides it, else in bytes. [`parse_size`]
/// reads it back; limit messages quote their constants with it.
pub fn format_size_exact(bytes: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if bytes != 0 && bytes.trailing_zeros() >= shift {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

/// Formats a duration the way [`parse_duration`] reads it (`"2s"`).
pub fn format_duration(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration(" 250ms "), Ok(Duration::from_millis(250)));
        assert_eq!(parse_size("64MiB"), Ok(64 * 1024 * 1024));
        assert_eq!(parse_size("1 MB"), Ok(1_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
    }

    #[test]
    fn bounds_are_written_in_whole_units() {
        assert_eq!(format_size_exact(64 << 10), "64KiB");
        assert_eq!(format_size_exact(4 << 30), "4GiB");
        assert_eq!(format_size_exact(256 << 20), "256MiB");
        assert_eq!(format_size_exact(1536), "1536");
        assert_eq!(format_size_exact(0), "0");
    }

    #[test]
    fn rejects_garbage_with_a_hint() {
        let err = parse_duration("soon").unwrap_err();
        assert!(err.contains("`soon`") && err.contains("\"2s\""), "{err}");
        let err = parse_size("lots").unwrap_err();
        assert!(err.contains("`lots`") && err.contains("MiB"), "{err}");
        let err = parse_size("-5MiB").unwrap_err();
        assert!(err.contains("negative"), "{err}");
        assert!(parse_size("12 parsecs").is_err());
    }

    proptest! {
        #[test]
        fn durations_round_trip(millis in 0u64..10_000_000_000) {
            let duration = Duration::from_millis(millis);
            prop_assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }

        #[test]
        fn sizes_round_trip(value in 0u64..1_000_000, unit in 0usize..4) {
            let (suffix, factor) = [("B", 1), ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30)][unit];
            prop_assert_eq!(parse_size(&format!("{value}{suffix}")), Ok(value * factor));
            prop_assert_eq!(parse_size(&format!("{value} {}", suffix.to_lowercase())), Ok(value * factor));
        }

        #[test]
        fn exact_sizes_round_trip(bytes in 0u64..(1 << 40)) {
            prop_assert_eq!(parse_size(&format_size_exact(bytes)), Ok(bytes));
        }

        #[test]
        fn parsers_never_panic(text in ".{0,40}") {
            let _ = parse_duration(&text);
            let _ = parse_size(&text);
        }
    }
}
