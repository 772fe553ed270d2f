//! The rule every script is held to, so that what `KEYS[13]` is can be read
//! in one place: the header lists each key once, one per line
//! (`-- KEYS[n] name TYPE: what`, a variable tail as `-- KEYS[n..]`), and
//! arguments likewise (`-- ARGV[n] name: what`); the body begins with
//! `local` assignments that name every key exactly once (`KEYS[n]`, or
//! `tail(KEYS, n)` for the tail) and reads `KEYS` nowhere else. The header,
//! the body and the count declared in [`SCRIPTS`] must agree, and the
//! prelude reads no `KEYS` at all. A script that calls a prelude helper that
//! may push a wake token takes the wake channel as `ARGV[1]`, and only such
//! a script does.

use super::{Keys, PRELUDE, SCRIPTS, WAKE_CHANNEL_ARG};
use std::collections::BTreeSet;

/// The Redis types a key line may name (with a plural `s` or `es` for a
/// tail of keys).
const TYPES: [&str; 5] = ["ZSET", "HASH", "LIST", "SET", "STRING"];

/// What a header declares: the fixed count and whether a tail follows.
#[derive(Debug, Default, PartialEq, Eq)]
struct Declared {
    fixed: usize,
    tail: bool,
}

impl Declared {
    fn keys(&self) -> Keys {
        match self.tail {
            true => Keys::AtLeast(self.fixed),
            false => Keys::Exactly(self.fixed),
        }
    }
}

/// Checks one script (without the prelude); returns the keys it declares.
fn check(source: &str) -> Result<Keys, String> {
    let lines: Vec<&str> = source.lines().collect();
    let header_len = lines.iter().take_while(|l| l.starts_with("--")).count();
    let (header, body) = lines.split_at(header_len);
    let (keys, argv) = read_header(header)?;
    let code: Vec<String> = body.iter().map(|l| strip_comment(l)).collect();
    let (block_len, named) = read_key_block(&code)?;
    if let Some((i, line)) = code
        .iter()
        .enumerate()
        .skip(block_len)
        .find(|(_, l)| has_word(l, "KEYS"))
    {
        return Err(format!(
            "body line {}: KEYS outside the key names at the top: {}",
            header_len + i + 1,
            line.trim()
        ));
    }
    let fixed: BTreeSet<usize> = (1..=keys.fixed).collect();
    if named.fixed != fixed {
        return Err(format!(
            "the header lists KEYS[1..={}], the body names {:?}",
            keys.fixed, named.fixed
        ));
    }
    match (keys.tail, named.tail) {
        (false, None) => {}
        (true, Some(first)) if first == keys.fixed + 1 => {}
        (want, got) => {
            return Err(format!(
                "the header's tail of keys (declared: {want}) and the body's (from: {got:?}) differ"
            ));
        }
    }
    if !argv.tail
        && let Some(n) = argv_indices(&code).find(|&n| n > argv.fixed)
    {
        return Err(format!(
            "the body reads ARGV[{n}], the header lists {}",
            argv.fixed
        ));
    }
    Ok(keys.keys())
}

/// The KEYS and ARGV a header declares, one per line with no gaps.
fn read_header(header: &[&str]) -> Result<(Declared, Declared), String> {
    let (mut keys, mut argv) = (Declared::default(), Declared::default());
    for (i, line) in header.iter().enumerate() {
        let mentions = line.matches("KEYS[").count() + line.matches("ARGV[").count();
        let entry = [("KEYS", &mut keys), ("ARGV", &mut argv)]
            .into_iter()
            .find(|(what, _)| line.starts_with(&format!("-- {what}[")));
        let Some((what, declared)) = entry else {
            if mentions > 0 {
                return Err(format!(
                    "header line {}: KEYS[ or ARGV[ inside text: {line}",
                    i + 1
                ));
            }
            continue;
        };
        if mentions != 1 {
            return Err(format!(
                "header line {}: one {what} entry per line: {line}",
                i + 1
            ));
        }
        let rest = &line[what.len() + 4..];
        let (index, text) = rest
            .split_once("] ")
            .ok_or_else(|| format!("header line {}: no `] ` after the index", i + 1))?;
        let (index, tail) = match index.strip_suffix("..") {
            Some(first) => (first, true),
            None => (index, false),
        };
        let n: usize = index
            .parse()
            .map_err(|_| format!("header line {}: index {index:?}", i + 1))?;
        if declared.tail || n != declared.fixed + 1 {
            return Err(format!(
                "header line {}: {what}[{n}] after {what}[{}]{}",
                i + 1,
                declared.fixed,
                if declared.tail { ".." } else { "" }
            ));
        }
        let (name, about) = text
            .split_once(": ")
            .ok_or_else(|| format!("header line {}: no `name: what` in {line}", i + 1))?;
        if name.trim().is_empty() || about.trim().is_empty() {
            return Err(format!("header line {}: empty name or description", i + 1));
        }
        if what == "KEYS" && !names_a_type(name) {
            return Err(format!(
                "header line {}: {name:?} does not end in a type ({TYPES:?})",
                i + 1
            ));
        }
        match tail {
            true => declared.tail = true,
            false => declared.fixed = n,
        }
    }
    Ok((keys, argv))
}

/// Whether `name TYPE` ends in a Redis type (plural for a tail of keys).
fn names_a_type(name: &str) -> bool {
    let Some((_, ty)) = name.trim().rsplit_once(' ') else {
        return false;
    };
    let singular = [
        ty,
        ty.strip_suffix("es").unwrap_or(""),
        ty.strip_suffix('s').unwrap_or(""),
    ];
    singular.iter().any(|t| TYPES.contains(t))
}

/// What the key block names.
#[derive(Debug, Default)]
struct Named {
    fixed: BTreeSet<usize>,
    tail: Option<usize>,
}

/// The key block at the top of the body: `local` statements (spread over
/// lines after a trailing `=` or `,`) whose every value is `KEYS[n]` or
/// `tail(KEYS, n)`. Returns how many lines it spans and what it names.
fn read_key_block(code: &[String]) -> Result<(usize, Named), String> {
    let mut named = Named::default();
    let mut at = 0;
    while at < code.len() {
        let mut statement = code[at].trim().to_owned();
        let mut end = at + 1;
        while (statement.ends_with('=') || statement.ends_with(',')) && end < code.len() {
            statement.push(' ');
            statement.push_str(code[end].trim());
            end += 1;
        }
        let Some(items) = key_statement(&statement)? else {
            break;
        };
        for item in items {
            let fresh = match item {
                Item::Key(n) => named.fixed.insert(n),
                Item::Tail(n) => named.tail.replace(n).is_none(),
            };
            if !fresh {
                return Err(format!("{statement:?}: a key named twice"));
            }
        }
        at = end;
    }
    Ok((at, named))
}

enum Item {
    Key(usize),
    Tail(usize),
}

/// The keys a `local a, b = KEYS[1], KEYS[2]` statement names; `None` when
/// the statement is anything else (the key block ends there).
fn key_statement(statement: &str) -> Result<Option<Vec<Item>>, String> {
    let Some((names, values)) = statement
        .strip_prefix("local ")
        .and_then(|s| s.split_once('='))
    else {
        return Ok(None);
    };
    let values: Vec<&str> = values
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    // `tail(KEYS, n)` holds a comma: join it back.
    let mut items = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let value = values[i];
        let item = if let Some(n) = value
            .strip_prefix("KEYS[")
            .and_then(|v| v.strip_suffix(']'))
        {
            n.parse().ok().map(Item::Key)
        } else if value == "tail(KEYS" && i + 1 < values.len() {
            i += 1;
            values[i]
                .strip_suffix(')')
                .and_then(|n| n.parse().ok())
                .map(Item::Tail)
        } else {
            None
        };
        let Some(item) = item else {
            return Ok(None);
        };
        items.push(item);
        i += 1;
    }
    let names = names.split(',').filter(|n| !n.trim().is_empty()).count();
    if names != items.len() {
        return Err(format!(
            "{statement:?}: {names} names for {} keys",
            items.len()
        ));
    }
    Ok(Some(items))
}

/// The prelude helpers that may push a wake token.
const WAKING: [&str; 4] = ["wake", "wake_pending", "promote_ids", "reap_ids"];

/// Whether a script's code calls a helper that may push a wake token.
fn may_wake(source: &str) -> bool {
    source.lines().map(strip_comment).any(|line| {
        WAKING
            .iter()
            .any(|f| has_word(&line, f) && line.contains(&format!("{f}(")))
    })
}

/// The literal indices of `ARGV[n]` in code.
fn argv_indices(code: &[String]) -> impl Iterator<Item = usize> + '_ {
    code.iter().flat_map(|line| {
        line.match_indices("ARGV[").filter_map(move |(at, _)| {
            let rest = &line[at + 5..];
            rest[..rest.find(']')?].parse().ok()
        })
    })
}

/// A line without its `--` comment (quotes respected).
fn strip_comment(line: &str) -> String {
    let mut quote = None;
    let mut escaped = false;
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == q {
                    quote = None;
                }
            }
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if b == b'-' && bytes.get(i + 1) == Some(&b'-') => {
                return line[..i].to_owned();
            }
            None => {}
        }
    }
    line.to_owned()
}

/// Whether `word` occurs in `line` as a whole identifier.
fn has_word(line: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    line.match_indices(word).any(|(at, _)| {
        let before = line[..at].chars().next_back().is_none_or(|c| !ident(c));
        let after = line[at + word.len()..]
            .chars()
            .next()
            .is_none_or(|c| !ident(c));
        before && after
    })
}

#[cfg(test)]
mod tests;
