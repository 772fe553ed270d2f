//! Properties of the next-fire logic. Hosts never coordinate their clocks
//! beyond Redis's, so what matters is that the next fire is a pure function
//! of the instant: any two hosts that look at any instant between two fires
//! compute the same next fire, and a daylight-saving change neither skips a
//! day nor fires twice.

use super::*;
use chrono::{NaiveDate, TimeZone as _, Timelike as _};
use proptest::prelude::*;

const MINUTE: u64 = 60_000;

fn ms(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> u64 {
    let naive = NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, 0)
        .unwrap();
    tz.from_local_datetime(&naive)
        .earliest()
        .unwrap()
        .timestamp_millis() as u64
}

fn fires(cron: &CronSchedule, from: u64, until: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut at = from;
    while let Some(next) = cron.next_after(at) {
        if next > until {
            break;
        }
        out.push(next);
        at = next;
    }
    out
}

const EXPRS: &[&str] = &[
    "* * * * *",
    "*/5 * * * *",
    "0 3 * * *",
    "30 2 * * *",
    "15 */2 * * 1-5",
    "0 0 1 * *",
    "@hourly",
];
const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_instant_between_two_fires_agrees_on_the_next(
        expr in prop::sample::select(EXPRS),
        zone in prop::sample::select(ZONES),
        // 2020-01-01 .. 2035-01-01
        at in 1_577_836_800_000u64..2_051_222_400_000u64,
        frac in 0.0f64..1.0,
    ) {
        let cron = CronSchedule::parse(expr, Some(zone)).unwrap();
        let next = cron.next_after(at).unwrap();
        prop_assert!(next > at);
        prop_assert_eq!(next % MINUTE, 0, "fires are on whole minutes");
        let between = at + ((next - at) as f64 * frac) as u64;
        let between = between.min(next - 1);
        prop_assert_eq!(cron.next_after(between), Some(next));
        prop_assert!(cron.next_after(next).unwrap() > next);
    }

    #[test]
    fn a_fire_within_the_grace_fires_and_a_missed_one_obeys_catch_up(
        at in 1_577_836_800_000u64..2_051_222_400_000u64,
        late in 0u64..10 * MISSED_AFTER.as_millis() as u64,
        catch_up: bool,
    ) {
        let cron = CronSchedule::parse("*/5 * * * *", None).unwrap();
        let due = cron.next_after(at).unwrap();
        let now = due + late;
        let (fire, next) = decide(&cron, due, now, catch_up);
        let missed = late > MISSED_AFTER.as_millis() as u64;
        prop_assert_eq!(fire, !missed || catch_up);
        let next = next.unwrap();
        prop_assert!(next > now && next <= now + 5 * MINUTE);
    }

    #[test]
    fn bad_names_are_refused_and_good_ones_pass(name in "[A-Za-z0-9_.-]{1,64}") {
        prop_assert!(validate_schedule_name(&name).is_ok());
        let bad = format!("{name} x");
        prop_assert!(validate_schedule_name(&bad).is_err());
    }
}

#[test]
fn berlin_spring_forward_fires_every_day_once() {
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    let cron = CronSchedule::parse("0 3 * * *", Some("Europe/Berlin")).unwrap();
    let from = ms(berlin, 2026, 3, 27, 12, 0);
    let until = ms(berlin, 2026, 3, 31, 12, 0);
    let days: Vec<_> = fires(&cron, from, until)
        .into_iter()
        .map(|f| Utc.timestamp_millis_opt(f as i64).unwrap())
        .collect();
    // 28th (CET, UTC+1: 02:00 UTC); 29th, 30th and 31st (03:00 is already
    // CEST, UTC+2: 01:00 UTC).
    let hours: Vec<u32> = days.iter().map(|d| d.hour()).collect();
    assert_eq!(hours, [2, 1, 1, 1], "{days:?}");
}

#[test]
fn berlin_skipped_time_fires_after_the_gap_and_repeated_time_fires_once() {
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    let cron = CronSchedule::parse("30 2 * * *", Some("Europe/Berlin")).unwrap();
    // 2026-03-29 02:30 does not exist in Berlin: one fire that day, after the gap.
    let spring = fires(
        &cron,
        ms(berlin, 2026, 3, 29, 0, 0),
        ms(berlin, 2026, 3, 29, 23, 0),
    );
    assert_eq!(spring.len(), 1, "{spring:?}");
    let local = Utc
        .timestamp_millis_opt(spring[0] as i64)
        .unwrap()
        .with_timezone(&berlin);
    assert!(local.hour() == 3, "fired at {local}");
    // 2026-10-25 02:30 happens twice in Berlin: it fires once.
    let autumn = fires(
        &cron,
        ms(berlin, 2026, 10, 25, 0, 0),
        ms(berlin, 2026, 10, 25, 23, 0),
    );
    assert_eq!(autumn.len(), 1, "{autumn:?}");
}

#[test]
fn every_minute_fires_sixty_times_an_hour_across_the_autumn_change() {
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    let cron = CronSchedule::parse("* * * * *", Some("Europe/Berlin")).unwrap();
    let from = ms(berlin, 2026, 10, 25, 1, 30);
    // Three real hours later (the local clock shows only two).
    let until = from + 3 * 60 * MINUTE;
    assert_eq!(fires(&cron, from, until).len(), 180);
}

#[test]
fn validation_names_the_field() {
    let bad_cron = CronSchedule::parse("61 * * * *", None).unwrap_err();
    assert!(bad_cron.to_string().contains("`cron`"), "{bad_cron}");
    let never = CronSchedule::parse("0 0 30 2 *", None).unwrap_err();
    assert!(never.to_string().contains("never"), "{never}");
    let seconds = CronSchedule::parse("0 0 3 * * *", None).unwrap_err();
    assert!(matches!(seconds, ScheduleError::Cron { .. }), "{seconds}");
    let tz = CronSchedule::parse("* * * * *", Some("Mars/Olympus")).unwrap_err();
    assert!(tz.to_string().contains("`tz`"), "{tz}");
    let def = ScheduleDef {
        name: "nightly".into(),
        cron: "0 3 * * *".into(),
        tz: None,
        task_type: "bad type".into(),
        payload: vec![0; 10],
        catch_up: false,
    };
    assert!(
        def.validate(1024)
            .unwrap_err()
            .to_string()
            .contains("queue name")
    );
    let big = ScheduleDef {
        task_type: "report".into(),
        ..def
    };
    assert!(big.validate(5).unwrap_err().to_string().contains("limit"));
    let json = serde_json::to_string(&big).unwrap();
    assert_eq!(serde_json::from_str::<ScheduleDef>(&json).unwrap(), big);
}
