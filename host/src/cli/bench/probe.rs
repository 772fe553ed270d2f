//! Resource probes: what Redis and the host process used.
//!
//! The bench states costs per task (bytes of Redis memory, microseconds of
//! Redis and host CPU), so it needs exact readings taken before and after a
//! phase, not sampled gauges:
//!
//! * Redis: `INFO memory` and `INFO cpu` give `used_memory` (bytes the
//!   allocator handed out) and `used_cpu_sys`/`used_cpu_user` (seconds with
//!   microsecond digits, for the whole server process). The seconds are
//!   parsed as decimal text, not through a float, so a delta of a few
//!   microseconds per task is not rounding noise.
//! * The host: `/proc/<pid>/stat` fields 14 and 15 (`utime`, `stime`) in
//!   clock ticks. They cover every thread the process ever had, including
//!   exited ones, which per-thread counters would lose. Linux reports them
//!   in `USER_HZ`, which its ABI fixes at 100 on x86 and ARM; the kernel
//!   derives them from its precise runtime, so the error is one tick (10 ms)
//!   per reading, small against drains of seconds.

use std::collections::HashMap;

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`).
pub const USER_HZ: u64 = 100;

/// Why a probe reading could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// A field the bench needs is missing from `INFO`.
    #[error("Redis INFO has no `{0}` field; the bench needs Redis 6 or later")]
    MissingInfoField(&'static str),
    /// A field of `INFO` is not a number.
    #[error("Redis INFO field `{field}` is not a number: {value:?}")]
    BadInfoField { field: &'static str, value: String },
    /// `/proc/<pid>/stat` does not have the expected layout.
    #[error("cannot parse /proc/<pid>/stat ({0}); the bench needs Linux")]
    BadProcStat(String),
}

/// What Redis reported at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisReading {
    /// `used_memory`, in bytes.
    pub used_memory: u64,
    /// `used_cpu_sys + used_cpu_user`, in microseconds.
    pub cpu_us: u64,
}

impl RedisReading {
    /// Reads `used_memory`, `used_cpu_sys` and `used_cpu_user` from the text
    /// of `INFO` (any sections, as long as `memory` and `cpu` are in it).
    pub fn parse(info: &str) -> Result<RedisReading, ProbeError> {
        let fields: HashMap<&str, &str> = info
            .lines()
            .filter_map(|line| line.trim_end_matches('\r').split_once(':'))
            .collect();
        let get = |field: &'static str| {
            fields
                .get(field)
                .copied()
                .ok_or(ProbeError::MissingInfoField(field))
        };
        let bad = |field: &'static str, value: &str| ProbeError::BadInfoField {
            field,
            value: value.to_owned(),
        };
        let memory = get("used_memory")?;
        let used_memory = memory.parse().map_err(|_| bad("used_memory", memory))?;
        let mut cpu_us = 0u64;
        for field in ["used_cpu_sys", "used_cpu_user"] {
            let value = get(field)?;
            cpu_us += seconds_to_micros(value).ok_or_else(|| bad(field, value))?;
        }
        Ok(RedisReading {
            used_memory,
            cpu_us,
        })
    }
}

/// `"12.345678"` seconds as microseconds, exactly (at most 6 decimals are
/// meaningful; further digits are dropped).
pub fn seconds_to_micros(text: &str) -> Option<u64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut micros: u64 = 0;
    for i in 0..6 {
        let digit = frac.as_bytes().get(i).map_or(0, |b| u64::from(b - b'0'));
        micros = micros * 10 + digit;
    }
    whole
        .parse::<u64>()
        .ok()?
        .checked_mul(1_000_000)?
        .checked_add(micros)
}

/// CPU time (user + system) of a process from the text of its
/// `/proc/<pid>/stat`, in microseconds.
pub fn proc_stat_cpu_us(stat: &str) -> Result<u64, ProbeError> {
    // The command name (field 2) is in parentheses and may itself contain
    // spaces and parentheses: the fields after it start past the last ')'.
    let close = stat
        .rfind(')')
        .ok_or_else(|| ProbeError::BadProcStat("no ')' after the command name".into()))?;
    let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    // rest[0] is field 3 (state), so field k is rest[k - 3].
    let tick = |field: usize| -> Result<u64, ProbeError> {
        let text = rest
            .get(field - 3)
            .ok_or_else(|| ProbeError::BadProcStat(format!("field {field} is missing")))?;
        text.parse()
            .map_err(|_| ProbeError::BadProcStat(format!("field {field} is {text:?}")))
    };
    let ticks = tick(14)? + tick(15)?;
    Ok(ticks * (1_000_000 / USER_HZ))
}

/// CPU time of process `pid` so far, in microseconds.
pub fn process_cpu_us(pid: u32) -> Result<u64, std::io::Error> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    proc_stat_cpu_us(&text).map_err(std::io::Error::other)
}

/// The resident memory of process `pid`, bytes (`/proc/<pid>/statm`, whose
/// second field counts resident pages).
pub fn process_rss_bytes(pid: u32) -> Result<u64, std::io::Error> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/statm"))?;
    let pages: u64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("unexpected statm line {text:?}")))?;
    // SAFETY: sysconf only reads a system setting.
    #[allow(unsafe_code)]
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Ok(pages * u64::try_from(page).unwrap_or(4096))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_a_real_info_excerpt() {
        let info = "# Memory\r\nused_memory:1053872\r\nused_memory_human:1.01M\r\n\r\n\
                    # CPU\r\nused_cpu_sys:0.071390\r\nused_cpu_user:1.5\r\n";
        let reading = RedisReading::parse(info).unwrap();
        assert_eq!(reading.used_memory, 1_053_872);
        assert_eq!(reading.cpu_us, 71_390 + 1_500_000);
        let err = RedisReading::parse("used_memory:1\r\n").unwrap_err();
        assert_eq!(err, ProbeError::MissingInfoField("used_cpu_sys"));
        assert!(
            RedisReading::parse("used_memory:x\r\n")
                .unwrap_err()
                .to_string()
                .contains("\"x\"")
        );
    }

    #[test]
    fn reads_this_process() {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        proc_stat_cpu_us(&stat).unwrap();
        assert!(process_rss_bytes(std::process::id()).unwrap() > 1 << 20);
        let odd = "42 (a) b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0";
        assert_eq!(proc_stat_cpu_us(odd).unwrap(), 3_000_000);
        assert!(proc_stat_cpu_us("42 (x) S 1").is_err());
    }

    proptest! {
        #[test]
        fn seconds_parse_exactly(secs in 0u64..10_000_000, micros in 0u64..1_000_000) {
            let text = format!("{secs}.{micros:06}");
            prop_assert_eq!(seconds_to_micros(&text), Some(secs * 1_000_000 + micros));
            prop_assert_eq!(seconds_to_micros(&format!("{text}999")), Some(secs * 1_000_000 + micros));
            prop_assert_eq!(seconds_to_micros(&secs.to_string()), Some(secs * 1_000_000));
        }

        #[test]
        fn junk_is_refused_not_misread(text in "[^0-9]{1,12}") {
            prop_assert_eq!(seconds_to_micros(&text), None);
        }
    }
}
