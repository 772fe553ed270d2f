//! `wasmq dev --demo`: the example workload and the real services it talks to.
//!
//! The workload is the original design's: emails (every fifteenth with a
//! bad address, which ends up dead-lettered) and image jobs, every tenth
//! task high priority and every eighth delayed. Since the example plugins do
//! real work through their capabilities, the demo also starts what they
//! reach, on loopback ports chosen at run time:
//!
//! - a mail API ([`mail_api`]) that `email` POSTs each message to, with a
//!   bearer token the demo writes to a private file and grants as the
//!   `mail_token` secret; every twelfth message is refused once with `503`,
//!   so retries show up as real traffic;
//! - an image server ([`images`]) that `image` fetches its photo from,
//!   before it stores the thumbnail in its `thumbnails` bucket in Redis.
//!
//! The grants go to the host as [`RunConfig::extra_grants`]
//! (see [`DemoServices::grants`]), merged over any `email.toml` or
//! `image.toml` in the plugins directory: the ports exist only while the
//! demo runs, so no file could name them.
//!
//! [`RunConfig::extra_grants`]: crate::config::RunConfig::extra_grants

pub mod images;
pub mod mail_api;
pub mod server;

use crate::Client;
use crate::config::PluginManifest;
use crate::task::{Priority, TaskSpec};
use anyhow::Context;
use images::ImageServer;
use mail_api::MailApi;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Emails in the demo; every fifteenth has an invalid address.
pub const DEMO_EMAILS: usize = 120;
/// Image jobs in the demo.
pub const DEMO_IMAGES: usize = 80;
const BAD_EVERY: usize = 15;
/// The mail API refuses the first attempt of every this many messages.
const BUSY_EVERY: u64 = 12;
/// Every eighth task waits this long before it may run.
const DEMO_DELAY: Duration = Duration::from_secs(3);

/// The demo's mail API and image server, and the secret file of the API's
/// token. Everything stops and is removed when dropped.
#[derive(Debug)]
pub struct DemoServices {
    /// The mail API `email` posts to.
    pub mail: MailApi,
    /// The image server `image` fetches from.
    pub images: ImageServer,
    /// Holds `mail_token`, readable by this user only.
    secrets: tempfile::TempDir,
}

impl DemoServices {
    /// Starts both servers on free loopback ports and writes the token.
    pub fn start() -> anyhow::Result<DemoServices> {
        let token = hex::encode(rand::random::<[u8; 16]>());
        let secrets = tempfile::Builder::new()
            .prefix("wasmq-demo-secrets-")
            .tempdir()
            .context("cannot create a directory for the demo's mail token")?;
        // TempDir is created 0700, so the token is private to this user.
        std::fs::write(secrets.path().join("mail_token"), &token)
            .context("cannot write the demo's mail token")?;
        let mail =
            MailApi::start(&token, Some(BUSY_EVERY)).context("cannot start the demo mail API")?;
        let images = ImageServer::start().context("cannot start the demo image server")?;
        Ok(DemoServices {
            mail,
            images,
            secrets,
        })
    }

    /// What `email` and `image` are granted to reach these servers, parsed
    /// by the manifest's own rules.
    pub fn grants(&self) -> anyhow::Result<BTreeMap<String, PluginManifest>> {
        let source = Path::new("wasmq dev --demo's grants");
        let mut grants = BTreeMap::new();
        for task_type in ["email", "image"] {
            let text = self.manifest_text(task_type).unwrap_or_default();
            let manifest = PluginManifest::parse(&text, source)
                .with_context(|| format!("the demo's grant for {task_type}"))?;
            grants.insert(task_type.to_owned(), manifest);
        }
        Ok(grants)
    }

    /// Where the mail API's token is, as a `[secrets]` source (`file:...`).
    pub fn mail_token_source(&self) -> String {
        format!("file:{}", self.secrets.path().join("mail_token").display())
    }

    /// The grant of `task_type` (`email` or `image`) as manifest text, as
    /// a `<type>.toml` would hold it; `None` for any other type.
    pub fn manifest_text(&self, task_type: &str) -> Option<String> {
        match task_type {
            "email" | "email-js" | "email-py" => Some(format!(
                "[capabilities]\nhttp = [{}]\n[config]\nmail_api = {}\n[secrets]\nmail_token = {}\n",
                quoted(&self.mail.origin()),
                quoted(&self.mail.messages_url()),
                quoted(&self.mail_token_source()),
            )),
            "image" => Some(format!(
                "[capabilities]\nhttp = [{}]\nkv = [\"thumbnails\"]\n",
                quoted(&self.images.origin())
            )),
            _ => None,
        }
    }
}

/// `text` as a TOML string.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// One demo task and whether it is meant to succeed; images come from
/// `images` (see [`ImageServer::photo_url`]).
pub fn workload(images: &ImageServer) -> Vec<(TaskSpec, bool)> {
    let mut tasks = Vec::with_capacity(DEMO_EMAILS + DEMO_IMAGES);
    for i in 0..DEMO_EMAILS {
        let good = i % BAD_EVERY != BAD_EVERY - 1;
        let to = if good {
            format!("user{i}@example.com")
        } else {
            format!("user{i} at example dot com")
        };
        let payload = serde_json::json!({
            "to": to,
            "subject": format!("Welcome #{i}"),
            "body": format!("Hello user {i}, thanks for signing up."),
        });
        tasks.push((TaskSpec::new("email", payload.to_string()), good));
    }
    for i in 0..DEMO_IMAGES {
        let side = 64 + (i as u32 % 8) * 64;
        let url = images.photo_url(side, side * 3 / 4);
        let payload = serde_json::json!({ "url": url, "scale": 0.5, "key": format!("photo-{i}") });
        tasks.push((TaskSpec::new("image", payload.to_string()), true));
    }
    for (i, (spec, _)) in tasks.iter_mut().enumerate() {
        if i % 10 == 0 {
            spec.priority = Priority::High;
        }
        if i % 8 == 3 {
            *spec = spec.clone().delay(DEMO_DELAY);
        }
    }
    tasks
}

/// Enqueues the workload and prints progress until it has settled (or `stop`).
pub async fn run(
    client: &Client,
    services: &DemoServices,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let (specs, good): (Vec<TaskSpec>, Vec<bool>) = workload(&services.images).into_iter().unzip();
    let expect_ok = good.iter().filter(|g| **g).count() as u64;
    let expect_dead = good.len() as u64 - expect_ok;
    let started = Instant::now();
    client
        .enqueue_many(specs)
        .await
        .context("cannot enqueue the demo tasks")?;
    println!(
        "demo: enqueued {} tasks ({expect_dead} emails with bad addresses will be dead-lettered, some tasks are delayed {}s)",
        good.len(),
        DEMO_DELAY.as_secs()
    );
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = ticker.tick() => {}
        }
        let (mut completed, mut dead, mut waiting) = (0, 0, 0);
        for queue in ["email", "image"] {
            let stats = client
                .queue_stats(queue)
                .await
                .context("cannot read the queue stats")?;
            completed += stats.counters.completed;
            dead += stats.counters.dead;
            waiting += stats.pending + stats.scheduled + stats.retry_wait + stats.active;
        }
        println!(
            "demo: {completed}/{expect_ok} completed, {dead}/{expect_dead} dead, {waiting} waiting or running; \
             mail API: {} sent in {} requests, image server: {} photos ({:.1}s)",
            services.mail.sent().len(),
            services.mail.requests(),
            services.images.served(),
            started.elapsed().as_secs_f64()
        );
        if completed >= expect_ok && dead >= expect_dead && waiting == 0 {
            println!("demo: done in {:.1}s", started.elapsed().as_secs_f64());
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_mixes_priorities_delays_and_bad_addresses() {
        let images = ImageServer::start().unwrap();
        let tasks = workload(&images);
        assert_eq!(tasks.len(), DEMO_EMAILS + DEMO_IMAGES);
        let bad = tasks.iter().filter(|(_, good)| !good).count();
        assert_eq!(bad, DEMO_EMAILS / BAD_EVERY);
        assert!(tasks.iter().any(|(s, _)| s.priority == Priority::High));
        assert!(
            tasks
                .iter()
                .any(|(s, _)| s.schedule != crate::task::Schedule::Now)
        );
        for (spec, good) in &tasks {
            let payload: serde_json::Value = serde_json::from_slice(&spec.payload).unwrap();
            if spec.queue == "image" {
                assert!(
                    payload["url"]
                        .as_str()
                        .unwrap()
                        .starts_with(&images.origin())
                );
            } else {
                assert_eq!(payload["to"].as_str().unwrap().contains('@'), *good);
            }
        }
    }

    #[test]
    fn the_grants_parse_and_name_the_servers() {
        let services = DemoServices::start().unwrap();
        let grants = services.grants().unwrap();
        let email = &grants["email"];
        assert_eq!(email.config["mail_api"], services.mail.messages_url());
        assert!(email.secrets.contains_key("mail_token"));
        assert_eq!(grants["image"].capabilities.kv, ["thumbnails"]);
    }
}
