//! Hiding the passwords of a Redis URL before it goes into a message.
//!
//! Every place that shows a Redis URL (a connect error, a `wasmq` command's
//! report, the bench's refusal) uses [`mask_password`], because the broker
//! owns the URL convention (see `conn.rs`): seed lists joined by commas,
//! `+cluster` schemes, query options. Separate copies once behaved three
//! ways, and one showed the second password of `redis://:p1@a:1,redis://:p2@b:2`.
//!
//! The rule errs towards hiding: it must hold for URLs that do not parse
//! (they end up in the "invalid Redis URL" error), so it cannot rely on a
//! URL parser.
//!
//! * A comma starts a new URL only if a `://` follows before the next comma;
//!   otherwise it belongs to a password (`redis://:a,b@h:1` is one URL).
//! * In each URL, everything between the scheme and the *last* `@` is the
//!   userinfo, so a raw `@`, `/`, `?` or `#` in a password is hidden too.
//!   The user name (up to the first `:`) stays; the password becomes `***`.
//!   Userinfo without a `:` is hidden whole: some clients read
//!   `redis://secret@host` as a password.
//! * Hosts, ports, database numbers and options stay, so the message still
//!   says where the URL points. (An `@` in a query string would hide the
//!   host as well; no Redis URL option takes one.)

/// The URL (or comma-separated seed list) with every password replaced by
/// `***`, for messages.
pub fn mask_password(url: &str) -> String {
    seeds(url)
        .into_iter()
        .map(mask_one)
        .collect::<Vec<_>>()
        .join(",")
}

/// Splits a seed list at the commas that are followed by another URL.
fn seeds(url: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (comma, _) in url.match_indices(',') {
        let next = url[comma + 1..].split(',').next().unwrap_or("");
        if next.contains("://") {
            out.push(&url[start..comma]);
            start = comma + 1;
        }
    }
    out.push(&url[start..]);
    out
}

/// Masks the userinfo of one URL (see the module docs).
fn mask_one(url: &str) -> String {
    let from = url.find("://").map_or(0, |scheme| scheme + 3);
    let Some(at) = url.rfind('@').filter(|at| *at > from) else {
        return url.to_owned();
    };
    let (head, userinfo, rest) = (&url[..from], &url[from..at], &url[at..]);
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{head}{user}:***{rest}"),
        None => format!("{head}***{rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        for (url, shown) in [
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("redis://:hunter2@h:6379/0", "redis://:***@h:6379/0"),
            ("rediss://bob:pw@h", "rediss://bob:***@h"),
            ("rediss://hunter2@h:1", "rediss://***@h:1"),
            ("redis://u:p@ss/w?rd@h:1/2", "redis://u:***@h:1/2"),
            ("redis://:a,b@h:1", "redis://:***@h:1"),
            ("u:pw@h:1", "u:***@h:1"),
            ("not a url", "not a url"),
            (
                "redis://:p1@a:1, rediss+cluster://u:p2@b:2/?protocol=resp3",
                "redis://:***@a:1, rediss+cluster://u:***@b:2/?protocol=resp3",
            ),
        ] {
            assert_eq!(mask_password(url), shown, "{url}");
        }
    }

    #[test]
    fn redaction_hides_the_second_password_of_a_seed_list() {
        assert_eq!(
            mask_password("redis://:p1@a:1,redis://:p2@b:2"),
            "redis://:***@a:1,redis://:***@b:2"
        );
    }

    /// One seed of a list: its text, its password (if any) and `host:port`.
    fn seed() -> impl Strategy<Value = (String, Option<String>, String)> {
        let scheme = prop::sample::select(vec![
            "redis://",
            "rediss://",
            "redis+cluster://",
            "rediss+cluster://",
        ]);
        // Passwords start with a capital, which nothing else generated here
        // contains, so finding one in the output can only be a leak.
        let password = "[A-Z][A-Za-z0-9!$&*+;=@/?#,.:_~%-]{5,15}"
            .prop_filter("no scheme inside", |p| !p.contains("://"));
        let query = prop::option::of("[a-z]{1,8}=[a-z0-9]{1,8}(&[a-z]{1,8}=[a-z0-9]{1,8}){0,2}");
        (
            scheme,
            prop::option::of(("[a-z]{0,6}", password)),
            "[a-z][a-z0-9.-]{0,10}",
            1u16..,
            prop::option::of(0u8..16),
            query,
        )
            .prop_map(|(scheme, creds, host, port, db, query)| {
                let mut url = scheme.to_owned();
                if let Some((user, password)) = &creds {
                    url.push_str(&format!("{user}:{password}@"));
                }
                url.push_str(&format!("{host}:{port}"));
                if let Some(db) = db {
                    url.push_str(&format!("/{db}"));
                }
                if let Some(query) = query {
                    url.push_str(&format!("/?{query}"));
                }
                (url, creds.map(|(_, p)| p), format!("{host}:{port}"))
            })
    }

    proptest! {
        #[test]
        fn redaction_hides_every_password_of_a_seed_list(
            seeds in prop::collection::vec(seed(), 1..5),
            separator in prop::sample::select(vec![",", ", "]),
        ) {
            let url = seeds.iter().map(|(u, _, _)| u.as_str()).collect::<Vec<_>>().join(separator);
            let shown = mask_password(&url);
            for (_, password, host) in &seeds {
                if let Some(password) = password {
                    prop_assert!(!shown.contains(password.as_str()), "{shown}");
                }
                prop_assert!(shown.contains(host.as_str()), "{shown} lost {host}");
            }
            prop_assert_eq!(shown.matches("://").count(), seeds.len());
            // Masking twice changes nothing more.
            prop_assert_eq!(mask_password(&shown), shown);
        }
    }
}
