//! Reading script replies without trusting them.
//!
//! Redis data may have been written by anything, so every accessor returns a
//! [`BrokerError::Reply`] naming the operation instead of panicking on an
//! unexpected shape.

use super::error::{BrokerError, BrokerResult};
use redis::Value;

/// A reply being read, with the operation for error messages.
pub(crate) struct Reply<'a> {
    op: &'a str,
}

impl<'a> Reply<'a> {
    /// A reader for replies of operation `op`.
    pub(crate) fn of(op: &'a str) -> Self {
        Self { op }
    }

    fn wrong(&self, want: &str, got: &Value) -> BrokerError {
        let mut shown = format!("{got:?}");
        shown.truncate(120);
        BrokerError::reply(self.op, format!("expected {want}, got {shown}"))
    }

    /// An array (RESP2 array or RESP3 set).
    pub(crate) fn array(&self, v: Value) -> BrokerResult<Vec<Value>> {
        match v {
            Value::Array(items) | Value::Set(items) => Ok(items),
            Value::Nil => Ok(Vec::new()),
            other => Err(self.wrong("an array", &other)),
        }
    }

    /// An integer (also accepted as decimal text).
    pub(crate) fn int(&self, v: &Value) -> BrokerResult<i64> {
        match v {
            Value::Int(i) => Ok(*i),
            Value::BulkString(b) => std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|f| f.is_finite())
                .map(|f| f as i64)
                .ok_or_else(|| self.wrong("an integer", v)),
            Value::Double(f) if f.is_finite() => Ok(*f as i64),
            other => Err(self.wrong("an integer", other)),
        }
    }

    /// A non-negative integer.
    pub(crate) fn uint(&self, v: &Value) -> BrokerResult<u64> {
        let i = self.int(v)?;
        u64::try_from(i).map_err(|_| self.wrong("a non-negative integer", v))
    }

    /// Bytes, or `None` for nil / Lua `false`.
    pub(crate) fn opt_bytes(&self, v: Value) -> BrokerResult<Option<Vec<u8>>> {
        match v {
            Value::Nil | Value::Boolean(false) => Ok(None),
            Value::BulkString(b) => Ok(Some(b)),
            Value::SimpleString(s) => Ok(Some(s.into_bytes())),
            Value::Okay => Ok(Some(b"OK".to_vec())),
            Value::Int(i) => Ok(Some(i.to_string().into_bytes())),
            other => Err(self.wrong("a string", &other)),
        }
    }

    /// Bytes that must be there.
    pub(crate) fn bytes(&self, v: Value) -> BrokerResult<Vec<u8>> {
        self.opt_bytes(v)?
            .ok_or_else(|| BrokerError::reply(self.op, "expected a string, got nil"))
    }

    /// UTF-8 text that must be there (invalid bytes are replaced).
    pub(crate) fn text(&self, v: Value) -> BrokerResult<String> {
        self.bytes(v)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// Optional UTF-8 text.
    pub(crate) fn opt_text(&self, v: Value) -> BrokerResult<Option<String>> {
        Ok(self
            .opt_bytes(v)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Field/value pairs from a flat array (RESP2 HGETALL) or a RESP3 map.
    pub(crate) fn pairs(&self, v: Value) -> BrokerResult<Vec<(String, Value)>> {
        let items: Vec<(Value, Value)> = match v {
            Value::Map(pairs) => pairs,
            other => {
                let flat = self.array(other)?;
                if flat.len() % 2 != 0 {
                    return Err(BrokerError::reply(self.op, "odd number of hash items"));
                }
                let mut it = flat.into_iter();
                let mut pairs = Vec::new();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                pairs
            }
        };
        items
            .into_iter()
            .map(|(k, v)| Ok((self.text(k)?, v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let r = Reply::of("test");
        assert_eq!(
            r.int(&Value::BulkString(b"1700000000000".to_vec()))
                .unwrap(),
            1_700_000_000_000
        );
        assert!(r.int(&Value::BulkString(b"x".to_vec())).is_err());
        assert_eq!(r.opt_bytes(Value::Nil).unwrap(), None);
        let err = r.array(Value::Int(3)).unwrap_err().to_string();
        assert!(err.contains("test") && err.contains("array"), "{err}");
        let pairs = r
            .pairs(Value::Array(vec![
                Value::BulkString(b"a".to_vec()),
                Value::Int(1),
            ]))
            .unwrap();
        assert_eq!(pairs.len(), 1);
        assert!(r.uint(&Value::Int(-1)).is_err());
    }
}
