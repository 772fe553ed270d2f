//! Calling a prepared script and reading the reply shapes several scripts
//! share: a list of counts, or one flag per task of a batch.
//!
//! Every script call of the broker goes through [`Client::invoke`], so each
//! is checked against the number of keys its script takes (see
//! `scripts.rs`) and fails the same way. Every broker operation names
//! itself (`op`) so that a Redis failure or an unexpected reply says which
//! call it was.

use super::client::Client;
use super::error::{BrokerError, BrokerResult};
use super::reply::Reply;
use super::scripts::Call;
use redis::{ErrorKind, ServerErrorKind, Value};

impl Client {
    /// Runs a prepared script call; a Redis error fails as operation `op`.
    /// A call passing a number of keys its script does not take fails
    /// before it is sent. A server that lacks the script (`NOSCRIPT`) gets it once as `EVAL`
    /// (see `scripts.rs` for why not `SCRIPT LOAD`).
    pub(crate) async fn invoke(&self, call: &Call<'_>, op: &str) -> BrokerResult<Value> {
        let evalsha = call.checked().map_err(|why| BrokerError::reply(op, why))?;
        let mut conn = self.conn();
        match evalsha.query_async(&mut conn).await {
            Ok(reply) => Ok(reply),
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => call
                .with_text()
                .query_async(&mut conn)
                .await
                .map_err(|e| self.fail(op, e)),
            Err(e) => Err(self.fail(op, e)),
        }
    }

    /// Runs a batch script call that replies with one flag per task and
    /// returns the flags; fails as `op` unless there are exactly `n`.
    pub(crate) async fn invoke_flags(
        &self,
        inv: &Call<'_>,
        op: &str,
        n: usize,
    ) -> BrokerResult<Vec<Value>> {
        let flags = Reply::of(op).array(self.invoke(inv, op).await?)?;
        if flags.len() != n {
            return Err(BrokerError::reply(op, "one flag per task expected"));
        }
        Ok(flags)
    }
}

/// The non-negative count at `i` of a counts reply, 0 where the reply is
/// shorter (older scripts, or nothing to report).
pub(crate) fn count(r: &Reply<'_>, counts: &[Value], i: usize) -> BrokerResult<u64> {
    Ok(counts.get(i).map(|v| r.uint(v)).transpose()?.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_defaults_to_zero_and_checks_the_sign() {
        let r = Reply::of("test");
        let counts = [Value::Int(3), Value::Int(-1)];
        assert_eq!(count(&r, &counts, 0).unwrap(), 3);
        assert!(count(&r, &counts, 1).is_err());
        assert_eq!(count(&r, &counts, 2).unwrap(), 0);
        assert_eq!(count(&r, &[], 0).unwrap(), 0);
    }
}
