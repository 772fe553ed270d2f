//! Rate parsing and the GCRA model, property-tested.

use super::*;
use proptest::prelude::*;

#[test]
fn parses_rates_in_each_unit() {
    assert_eq!(
        Rate::parse("100/s").unwrap(),
        Rate {
            count: 100,
            period: Period::Second
        }
    );
    assert_eq!(Rate::parse("30/m").unwrap().period, Period::Minute);
    assert_eq!(Rate::parse(" 2 / h ").unwrap().to_string(), "2/h");
    assert_eq!(Rate::parse("1_000/sec").unwrap().count, 1000);
}

#[test]
fn rejects_bad_rates_saying_what_to_do() {
    for (text, why) in [
        ("100", "no unit"),
        ("0/s", "at least 1"),
        ("-5/s", "not a whole number"),
        ("1.5/s", "not a whole number"),
        ("100/d", "unknown unit"),
        ("100/", "no unit"),
        ("1000001/s", "too large"),
        ("99999999999999999999999/s", "too large"),
        ("/s", "not a whole number"),
    ] {
        let e = Rate::parse(text).unwrap_err().to_string();
        assert!(e.contains(why), "{text}: {e}");
        assert!(e.contains("for example 100/s"), "{text}: {e}");
    }
}

#[test]
fn the_default_burst_is_100_ms_of_the_rate() {
    let burst = |r: &str| {
        QueueLimits::from_parts(Some(r), None, None)
            .unwrap()
            .effective_burst()
    };
    assert_eq!(burst("50/s"), 5);
    assert_eq!(burst("1/s"), 1);
    assert_eq!(burst("30/m"), 1);
    assert_eq!(burst("1000000/s"), MAX_BURST);
    assert_eq!(QueueLimits::default().effective_burst(), 1);
}

#[test]
fn bounds_burst_and_concurrency() {
    let e = QueueLimits::from_parts(Some("1/s"), Some(0), None).unwrap_err();
    assert!(e.to_string().contains("burst 0"), "{e}");
    let e = QueueLimits::from_parts(Some("1/s"), Some(MAX_BURST + 1), None).unwrap_err();
    assert!(e.to_string().contains("from 1 to"), "{e}");
    let e = QueueLimits::from_parts(None, None, Some(0)).unwrap_err();
    assert!(e.to_string().contains("concurrency 0"), "{e}");
    let e = QueueLimits::from_parts(None, Some(3), None).unwrap_err();
    assert_eq!(e, LimitError::BurstWithoutRate);
    let ok = QueueLimits::from_parts(Some("50/s"), Some(5), Some(8)).unwrap();
    assert_eq!(ok.to_string(), "rate 50/s, burst 5, concurrency 8");
}

const SEC: u64 = 1_000_000_000;

#[test]
fn idle_limiter_allows_a_burst_then_one_per_interval() {
    let mut g = Gcra::new(Rate::parse("10/s").unwrap(), 3);
    assert_eq!(g.take(SEC, 10), (3, Some(SEC / 10)));
    assert_eq!(g.take(SEC + SEC / 20, 1), (0, Some(SEC / 20)));
    assert_eq!(g.take(SEC + SEC / 10, 5), (1, Some(SEC / 10)));
}

proptest! {
    #[test]
    fn display_round_trips(count in 1..=MAX_RATE_COUNT, unit in 0..3usize) {
        let period = [Period::Second, Period::Minute, Period::Hour][unit];
        let rate = Rate { count, period };
        prop_assert_eq!(Rate::parse(&rate.to_string()).unwrap(), rate);
    }

    #[test]
    fn parse_never_panics_and_accepts_only_bounded_rates(text in ".{0,24}") {
        if let Ok(r) = Rate::parse(&text) {
            prop_assert!((1..=MAX_RATE_COUNT).contains(&r.count));
        }
    }

    /// Over any window, whatever the pattern of requests, a limiter never
    /// grants more than burst + window / interval tasks, and a caller that
    /// always asks gets at least window / interval - 1.
    #[test]
    fn gcra_holds_the_rate(
        count in 1..2_000u64,
        burst in 1..50u64,
        steps in proptest::collection::vec((0..SEC / 5, 1..100u64), 1..300),
    ) {
        let rate = Rate { count, period: Period::Second };
        let mut g = Gcra::new(rate, burst);
        let interval = g.interval_ns();
        let start = 7 * SEC;
        let mut now = start;
        let mut granted = 0u64;
        for (gap, want) in steps {
            now += gap;
            let (n, wait) = g.take(now, want);
            prop_assert!(n <= want);
            granted += n;
            let elapsed = now - start;
            prop_assert!(granted <= burst + elapsed / interval,
                "granted {} in {} ns at interval {}", granted, elapsed, interval);
            if let Some(w) = wait {
                // The promised wait is exact: one task then, none before.
                prop_assert!(w > 0 || n == want);
                let mut probe = g;
                if w > 0 {
                    prop_assert_eq!(probe.take(now + w - 1, 1).0, 0);
                }
                prop_assert_eq!(probe.take(now + w, 1).0, 1);
            }
        }
    }

    #[test]
    fn keyed_limiter_stays_bounded(clients in proptest::collection::vec(0..50_000u32, 1..400)) {
        let l = KeyedLimiter::new(Rate::parse("1/h").unwrap(), 1, 64);
        for (i, c) in clients.iter().enumerate() {
            let _ = l.check_at(&c.to_string(), 1, i as u64);
            prop_assert!(l.tracked() <= 64);
        }
    }
}

#[test]
fn keyed_limiter_refuses_with_the_wait() {
    let l = KeyedLimiter::new(Rate::parse("2/s").unwrap(), 2, 10);
    assert!(l.check_at("a", 1, 0).is_ok());
    assert!(l.check_at("a", 1, 0).is_ok());
    let wait = l.check_at("a", 1, 0).unwrap_err();
    assert_eq!(wait, std::time::Duration::from_millis(500));
    assert!(l.check_at("b", 2, 0).is_ok(), "clients are limited apart");
    assert!(
        l.check_at("a", 3, 0).is_err(),
        "more than a burst never passes"
    );
    assert!(l.check_at("a", 1, SEC / 2).is_ok());
}
