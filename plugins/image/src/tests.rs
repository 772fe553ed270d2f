//! Tests of the handler: the draw mode end to end (natively, buckets live
//! in memory), the payload checks, and the url mode up to the request.

use super::*;
use wasmq_plugin_sdk::ErrorKind;

fn run(payload: &str) -> Result<serde_json::Value, TaskError> {
    let out = thumbnail(Task::new("image", payload))?;
    Ok(serde_json::from_slice(&out.data).unwrap())
}

fn request(payload: &str) -> Request {
    serde_json::from_str(payload).unwrap()
}

#[test]
fn halves_and_is_deterministic() {
    let out = run(r#"{"width":640,"height":480}"#).unwrap();
    assert_eq!(
        (out["width"].as_u64(), out["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert_eq!(
        (
            out["source"]["width"].as_u64(),
            out["source"]["height"].as_u64()
        ),
        (Some(640), Some(480))
    );
    assert_eq!(out["source"]["url"], serde_json::Value::Null);
    assert_eq!(
        out["stored"],
        serde_json::Value::Null,
        "no key, nothing stored"
    );
    assert_eq!(
        out,
        run(r#"{"width":640,"height":480,"scale":0.5}"#).unwrap()
    );
    // The value the wasm build returns through `wasmq call`: native and
    // wasm must agree bit for bit.
    assert_eq!(out["checksum"], "3f34d6df4469063d");
    assert_ne!(
        out["checksum"],
        run(r#"{"width":640,"height":481}"#).unwrap()["checksum"]
    );
}

#[test]
fn a_drawn_thumbnail_is_stored_as_a_png_when_a_key_is_given() {
    let out = run(r#"{"width":64,"height":48,"scale":0.25,"key":"drawn/1"}"#).unwrap();
    let stored = &out["stored"];
    assert_eq!(
        (&stored["bucket"], &stored["key"]),
        (&"thumbnails".into(), &"drawn/1".into())
    );
    let png = kv::Bucket::open(BUCKET)
        .unwrap()
        .get("drawn/1")
        .unwrap()
        .unwrap();
    assert_eq!(stored["bytes"].as_u64(), Some(png.len() as u64));
    let thumb = codec::decode(&png).unwrap();
    assert_eq!((thumb.width, thumb.height), (16, 12));
    assert_eq!(out["checksum"], format!("{:016x}", fnv1a64(&thumb.rgba)));
}

#[test]
fn out_of_range_fields_are_named() {
    for (payload, needle) in [
        (
            r#"{"width":0,"height":10}"#,
            "image payload: field `width` is 0",
        ),
        (r#"{"width":10,"height":5000}"#, "`height` is 5000"),
        (r#"{"width":4096,"height":4096}"#, "pixels"),
        (r#"{"width":10,"height":10,"scale":1.5}"#, "`scale` is 1.5"),
        (r#"{"width":10,"height":10,"scale":0}"#, "`scale` is 0"),
        (r#"{"width":10}"#, "missing field `height`"),
        (r#"{"height":10}"#, "missing field `width`"),
        (r#"{"url":"http://h/a.png","scale":-1}"#, "`scale` is -1"),
        (
            r#"{"width":10,"height":10,"depth":3}"#,
            "unknown field `depth`",
        ),
    ] {
        let err = run(payload).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Permanent);
        assert!(
            err.message().contains(needle),
            "{payload}: {}",
            err.message()
        );
    }
}

#[test]
fn url_and_size_together_or_neither_say_which_to_give() {
    for payload in [
        r#"{"url":"http://h/a.png","width":10,"height":10}"#,
        r#"{"url":"http://h/a.png","height":10}"#,
    ] {
        let err = run(payload).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Permanent);
        assert_eq!(
            err.message(),
            "image payload: give `url` (a PNG to fetch) or `width` and `height` (an image to draw), not both"
        );
    }
    for payload in [r#"{}"#, r#"{"scale":0.5,"key":"k"}"#] {
        let err = run(payload).unwrap_err();
        assert_eq!(
            err.message(),
            "image payload: give `url` (a PNG to fetch) or `width` and `height` (an image to draw)"
        );
    }
}

#[test]
fn keys_are_checked() {
    assert!(check_key("thumb:0123456789abcdef").is_ok());
    assert!(check_key(&"k".repeat(256)).is_ok());
    assert!(check_key("фото/1").is_ok());
    for (key, needle) in [
        (String::new(), "field `key` is empty"),
        ("k".repeat(257), "field `key` is 257 bytes long"),
        ("a\nb".to_owned(), "control character '\\n' at byte 1"),
        ("\u{7f}".to_owned(), "at byte 0"),
    ] {
        let err = check_key(&key).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Permanent);
        assert!(err.message().contains(needle), "{key:?}: {err}");
        assert!(err.message().contains("or leave it out"), "{err}");
    }
    let err = run(r#"{"width":8,"height":8,"key":""}"#).unwrap_err();
    assert!(err.message().contains("field `key` is empty"), "{err}");
}

#[test]
fn the_url_mode_keys_by_the_url_unless_told() {
    let url = "http://127.0.0.1:8026/photos/320x240.png";
    let plan_of = |payload: &str| plan(request(payload)).unwrap();
    let default = plan_of(&format!(r#"{{"url":"{url}"}}"#));
    assert_eq!(
        default,
        Plan {
            source: Source::Url(url.to_owned()),
            scale: 0.5,
            key: Some(format!("thumb:{:016x}", fnv1a64(url.as_bytes()))),
        }
    );
    let given = plan_of(&format!(r#"{{"url":"{url}","key":"p1","scale":0.25}}"#));
    assert_eq!((given.key.as_deref(), given.scale), (Some("p1"), 0.25));
    let drawn = plan_of(r#"{"width":3,"height":2}"#);
    assert_eq!(
        drawn.source,
        Source::Draw {
            width: 3,
            height: 2
        }
    );
    assert_eq!(drawn.key, None);
}

#[test]
fn natively_the_fetch_fails_retryably_after_the_payload_checks() {
    let err = run(r#"{"url":"http://127.0.0.1:8026/a.png"}"#).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable, "{err}");
    assert!(
        err.message()
            .contains("GET http://127.0.0.1:8026/a.png failed"),
        "{err}"
    );
}
