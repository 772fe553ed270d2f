//! A handler's successful result.
//!
//! The host stores the output bytes as the task's result and passes the
//! content type along to whoever reads it (the HTTP API, `wasmq result`), so
//! the constructors set the type that matches how the bytes were made.

use serde::Serialize;

use crate::TaskError;
use crate::bindings::wasmq::plugin::types::Output as WitOutput;

/// The content type [`Output::json`] sets.
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// The content type [`Output::text`] sets.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; charset=utf-8";

/// The result of a task that succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    /// The result bytes.
    pub data: Vec<u8>,
    /// For example `application/json`; `None` when the handler did not say.
    pub content_type: Option<String>,
}

impl Output {
    /// No bytes and no content type: the task succeeded, nothing to report.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Raw bytes without a content type (see [`Output::with_content_type`]).
    pub fn bytes(data: impl Into<Vec<u8>>) -> Self {
        Self {
            data: data.into(),
            content_type: None,
        }
    }

    /// UTF-8 text, typed `text/plain; charset=utf-8`.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            data: text.into().into_bytes(),
            content_type: Some(CONTENT_TYPE_TEXT.to_owned()),
        }
    }

    /// `value` encoded as JSON, typed `application/json`.
    ///
    /// Fails (permanently) only when `value` cannot be represented as JSON,
    /// for example a map whose keys are not strings.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, TaskError> {
        let data = serde_json::to_vec(value).map_err(|err| {
            TaskError::permanent(format!(
                "the handler's output cannot be encoded as JSON: {err}"
            ))
        })?;
        Ok(Self {
            data,
            content_type: Some(CONTENT_TYPE_JSON.to_owned()),
        })
    }

    /// Replaces the content type.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }
}

impl From<Output> for WitOutput {
    fn from(out: Output) -> Self {
        Self {
            data: out.data,
            content_type: out.content_type,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn constructors_set_content_types() {
        assert_eq!(
            Output::empty(),
            Output {
                data: vec![],
                content_type: None
            }
        );
        assert_eq!(Output::bytes(vec![1, 2]).content_type, None);
        let text = Output::text("hi");
        assert_eq!(text.data, b"hi");
        assert_eq!(text.content_type.as_deref(), Some(CONTENT_TYPE_TEXT));
        let json = Output::json(&serde_json::json!({"sent": true})).unwrap();
        assert_eq!(json.data, br#"{"sent":true}"#);
        assert_eq!(json.content_type.as_deref(), Some(CONTENT_TYPE_JSON));
        let typed = Output::bytes(*b"x").with_content_type("image/png");
        assert_eq!(typed.content_type.as_deref(), Some("image/png"));
    }

    #[test]
    fn unencodable_json_is_a_permanent_error() {
        let mut map = BTreeMap::new();
        map.insert((1, 2), "tuple keys are not JSON object keys");
        let err = Output::json(&map).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Permanent);
        assert!(
            err.message().contains("cannot be encoded as JSON"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn converts_to_wit() {
        let wit = WitOutput::from(Output::text("ok"));
        assert_eq!(wit.data, b"ok");
        assert_eq!(wit.content_type.as_deref(), Some(CONTENT_TYPE_TEXT));
    }

    proptest! {
        #[test]
        fn json_round_trips(map in proptest::collection::btree_map(".*", any::<i64>(), 0..8)) {
            let out = Output::json(&map).unwrap();
            let back: BTreeMap<String, i64> = serde_json::from_slice(&out.data).unwrap();
            prop_assert_eq!(back, map);
        }

        #[test]
        fn text_keeps_the_bytes(s in ".*") {
            prop_assert_eq!(Output::text(s.clone()).data, s.into_bytes());
        }
    }
}
