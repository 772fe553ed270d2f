//! What a server's data looks like to someone holding a dump of it: every
//! key's `DUMP` and an RDB written by `SAVE`, for the tests that check
//! that no plaintext of an encrypted payload reaches Redis (issue 13).

use super::{MISSING, RedisServer};
use std::process::{Command, Stdio};

impl RedisServer {
    /// Every key `redis-cli --scan` lists, each followed by the raw bytes
    /// of its `DUMP` (what a dump of the server would hold). Strings are
    /// dumped uncompressed (`rdbcompression no`), as someone reading a dump
    /// would see them after decompressing.
    pub fn dump_all_keys(&self) -> Vec<u8> {
        self.cli(&["CONFIG", "SET", "rdbcompression", "no"]);
        let mut out = Vec::new();
        for key in self.cli(&["--scan"]).lines().filter(|k| !k.is_empty()) {
            out.extend_from_slice(key.as_bytes());
            out.push(b'\n');
            out.extend_from_slice(&cli_bytes(self.port, &["DUMP", key]));
        }
        out
    }

    /// Saves an RDB with `SAVE` (strings uncompressed, see
    /// [`RedisServer::dump_all_keys`]) and returns the file's bytes.
    pub fn save_rdb(&self) -> Vec<u8> {
        self.cli(&["CONFIG", "SET", "rdbcompression", "no"]);
        let reply = self.cli(&["SAVE"]);
        assert_eq!(reply.trim(), "OK", "SAVE failed: {reply}");
        std::fs::read(self.rdb_path()).expect("read the saved RDB")
    }

    /// Where `SAVE` writes the RDB of this server.
    pub fn rdb_path(&self) -> std::path::PathBuf {
        let config = self.cli(&["CONFIG", "GET", "dbfilename"]);
        let name = config
            .lines()
            .nth(1)
            .unwrap_or("dump.rdb")
            .trim()
            .to_owned();
        self.dir.path().join(name)
    }
}

fn cli_bytes(port: u16, args: &[&str]) -> Vec<u8> {
    Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect(MISSING)
        .stdout
}
