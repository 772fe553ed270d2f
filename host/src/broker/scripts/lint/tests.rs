//! The lint run over every script, and over scripts that break the rule.

use super::*;

#[test]
fn every_script_follows_the_rule_and_matches_its_declared_keys() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/broker/lua");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".lua") && !f.starts_with("prelude"))
        .collect();
    files.sort();
    let mut listed: Vec<String> = SCRIPTS.all().iter().map(|s| s.file.to_owned()).collect();
    listed.sort();
    assert_eq!(files, listed, "every lua/*.lua must be in SCRIPTS, once");
    for script in SCRIPTS.all() {
        let keys = check(script.source).unwrap_or_else(|e| panic!("{}: {e}", script.file));
        assert_eq!(keys, script.keys, "{}: header vs SCRIPTS", script.file);
        assert_eq!(
            may_wake(script.source),
            script.wakes,
            "{}: calls a waking helper iff its header has {WAKE_CHANNEL_ARG:?}",
            script.file
        );
    }
    let waking = SCRIPTS.all().iter().filter(|s| s.wakes).count();
    assert_eq!(waking, 13, "the scripts that may wake");
}

#[test]
fn the_prelude_reads_no_keys() {
    for (i, line) in PRELUDE.lines().enumerate() {
        assert!(
            !has_word(&strip_comment(line), "KEYS"),
            "prelude (prelude.lua, then prelude_queue.lua) line {}: {line}",
            i + 1
        );
    }
}

#[test]
fn the_throughput_minute_is_the_same_in_rust_and_lua() {
    let line = format!("local MINUTE_MS = {}", crate::broker::stats::MINUTE_MS);
    assert!(
        PRELUDE.lines().any(|l| strip_comment(l).trim_end() == line),
        "prelude.lua lacks {line:?}"
    );
}

#[test]
fn scripts_that_break_the_rule_are_refused() {
    let good = "-- x.lua: a script.\n\
                -- KEYS[1] a ZSET: one\n\
                -- KEYS[2] b HASH: two\n\
                -- KEYS[3..] c HASHes: the rest\n\
                -- ARGV[1] n: a count\n\
                local a, b = KEYS[1],\n  KEYS[2]\n\
                local rest = tail(KEYS, 3)\n\
                -- KEYS[9] in a comment is fine\n\
                return redis.call('ZCARD', a) + #rest + ARGV[1] -- ARGV[7]\n";
    assert_eq!(check(good), Ok(Keys::AtLeast(2)));

    // Each case changes `good` by one or two replacements.
    let cases: [(&str, &[(&str, &str)]); 17] = [
        // Header: shared lines, gaps, repeats, no type, text naming a key.
        (
            "two keys on a line",
            &[
                ("-- KEYS[2] b HASH: two\n", ""),
                ("one\n", "one KEYS[2] b HASH: two\n"),
            ],
        ),
        ("a gap", &[("KEYS[2] b", "KEYS[4] b")]),
        ("a repeat", &[("KEYS[2] b", "KEYS[1] b")]),
        ("no type", &[("b HASH:", "b:")]),
        ("no description", &[("b HASH: two", "b HASH")]),
        ("a key in prose", &[("a script.", "a script of KEYS[1].")]),
        (
            "two ARGV on a line",
            &[("a count", "a count ARGV[2] m: more")],
        ),
        // Body: KEYS read below the block, a key named twice or not at all,
        // counts that disagree, a tail that does not follow the named keys.
        ("KEYS[ in the body", &[("'ZCARD', a)", "'ZCARD', KEYS[1])")]),
        ("#KEYS in the body", &[("#rest", "#KEYS")]),
        ("a table of keys", &[("tail(KEYS, 3)", "{ KEYS[3] }")]),
        ("named twice", &[("KEYS[2]\n", "KEYS[1]\n")]),
        (
            "not named",
            &[("local a, b = KEYS[1],\n  KEYS[2]", "local a = KEYS[1]")],
        ),
        ("names vs keys", &[("local a, b =", "local a, b, c =")]),
        ("no tail", &[("local rest = tail(KEYS, 3)\n", "")]),
        ("the tail elsewhere", &[("tail(KEYS, 3)", "tail(KEYS, 4)")]),
        (
            "a key beyond the header",
            &[("KEYS[2]\n", "KEYS[2], KEYS[3]\n"), ("a, b", "a, b, x")],
        ),
        ("ARGV beyond the header", &[("+ ARGV[1]", "+ ARGV[2]")]),
    ];
    for (why, edits) in cases {
        let mut source = good.to_owned();
        for (from, to) in edits {
            assert!(source.contains(from), "{why}: no {from:?}");
            source = source.replacen(from, to, 1);
        }
        assert!(check(&source).is_err(), "{why}: {source}");
    }
    let late = good.replace("return", "local d = KEYS[2]\nreturn");
    assert!(check(&late).is_err(), "a key named below the block");
}
