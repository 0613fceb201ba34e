//! Publishing coverage: every network the coordinator stores is appended to the Redis stream
//! that all workers tail from their local replicas (the change log of DESIGN.md §3).
//!
//! The `networks` table is the source: its ids only grow, so "what is not published yet" is
//! `id > last published id`. Many networks are packed into one stream entry
//! ([`rdapfleet_proto::coverage`], 9 bytes each), so the bytes replicated per network stay far
//! below 64. Progress lives in Redis next to the stream (`<stream>:last-id`, written in the same
//! MULTI/EXEC as the entry): a master that restarted empty reports nothing published, and
//! everything is published again. Redis being down never stops the crawl: the publisher logs,
//! backs off, and catches up when Redis returns.

use std::path::PathBuf;
use std::time::Duration;

use rdapfleet_proto::coverage::{self, CoverageRecord};
use rusqlite::{Connection, OpenFlags, params};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// Publisher settings (`Debug` shows the Redis URL without its password).
#[derive(Clone)]
pub struct PublishConfig {
    /// The master, e.g. `redis://:password@127.0.0.1:6379`.
    pub redis_url: String,
    /// The stream key.
    pub stream: String,
    /// The crawl database.
    pub db: PathBuf,
    /// How often to look for new networks.
    pub poll: Duration,
    /// Most networks per stream entry.
    pub per_entry: usize,
}

impl std::fmt::Debug for PublishConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishConfig")
            .field("redis_url", &rdapfleet_cli::redact_url(&self.redis_url))
            .field("stream", &self.stream)
            .field("db", &self.db)
            .field("poll", &self.poll)
            .field("per_entry", &self.per_entry)
            .finish()
    }
}

impl PublishConfig {
    /// Defaults for a master URL and database.
    pub fn new(redis_url: impl Into<String>, db: impl Into<PathBuf>) -> Self {
        Self {
            redis_url: redis_url.into(),
            stream: coverage::DEFAULT_STREAM.to_string(),
            db: db.into(),
            poll: Duration::from_millis(200),
            per_entry: 2048,
        }
    }

    fn progress_key(&self) -> String {
        format!("{}:last-id", self.stream)
    }
}

/// Publish until `shutdown`; never gives up on Redis faults.
pub async fn run(config: PublishConfig, shutdown: CancellationToken) {
    let mut delay = Duration::from_millis(200);
    let mut failing = false;
    loop {
        let result = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = publish_loop(&config, &shutdown) => r,
        };
        match result {
            Ok(()) => return,
            Err(e) => {
                if !failing {
                    warn!(error = %e, "coverage publishing paused: Redis unreachable; the crawl goes on and the log catches up later");
                    failing = true;
                } else {
                    debug!(error = %e, "Redis still unreachable");
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
        if !failing {
            delay = Duration::from_millis(200);
        }
    }
}

#[derive(Debug)]
enum PublishError {
    Redis(redis::RedisError),
    Db(String),
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublishError::Redis(e) => write!(f, "redis: {e}"),
            PublishError::Db(e) => write!(f, "database: {e}"),
        }
    }
}

impl From<redis::RedisError> for PublishError {
    fn from(e: redis::RedisError) -> Self {
        PublishError::Redis(e)
    }
}

fn read_batch(
    conn: &Connection,
    after: i64,
    limit: usize,
) -> rusqlite::Result<Vec<(i64, CoverageRecord)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, start_ip, end_ip, leaf FROM networks WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after, limit as i64], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, s, e, leaf) = row?;
        if let (Ok(start), Ok(end)) = (u32::try_from(s), u32::try_from(e))
            && start <= end
        {
            out.push((
                id,
                CoverageRecord {
                    start,
                    end,
                    leaf: leaf != 0,
                },
            ));
        }
    }
    Ok(out)
}

async fn publish_loop(
    config: &PublishConfig,
    shutdown: &CancellationToken,
) -> Result<(), PublishError> {
    let client = redis::Client::open(config.redis_url.as_str())?;
    let conn_config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(3)))
        .set_response_timeout(Some(Duration::from_secs(10)));
    let mut redis = client
        .get_multiplexed_async_connection_with_config(&conn_config)
        .await?;
    let db_path = config.db.clone();
    let db = tokio::task::spawn_blocking(move || {
        let c = Connection::open_with_flags(
            &db_path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        c.busy_timeout(Duration::from_secs(10))?;
        Ok::<_, rusqlite::Error>(c)
    })
    .await
    .map_err(|e| PublishError::Db(e.to_string()))?
    .map_err(|e| PublishError::Db(e.to_string()))?;
    let db = std::sync::Arc::new(std::sync::Mutex::new(db));

    let key = config.progress_key();
    let published: Option<i64> = redis::cmd("GET").arg(&key).query_async(&mut redis).await?;
    let mut last = published.unwrap_or(0);
    info!(stream = %config.stream, from_network_id = last, "publishing coverage");
    loop {
        let db2 = db.clone();
        let (after, limit) = (last, config.per_entry);
        let batch = tokio::task::spawn_blocking(move || {
            let c = db2.lock().unwrap_or_else(|p| p.into_inner());
            read_batch(&c, after, limit)
        })
        .await
        .map_err(|e| PublishError::Db(e.to_string()))?
        .map_err(|e| PublishError::Db(e.to_string()))?;
        if batch.is_empty() {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(config.poll) => {}
            }
            continue;
        }
        let records: Vec<CoverageRecord> = batch.iter().map(|(_, r)| *r).collect();
        let max_id = batch.last().map_or(last, |(id, _)| *id);
        let payload = coverage::encode(&records);
        let _: () = redis::pipe()
            .atomic()
            .cmd("XADD")
            .arg(&config.stream)
            .arg("*")
            .arg(coverage::FIELD)
            .arg(payload)
            .ignore()
            .cmd("SET")
            .arg(&key)
            .arg(max_id)
            .ignore()
            .query_async(&mut redis)
            .await?;
        debug!(
            networks = records.len(),
            up_to = max_id,
            "coverage entry published"
        );
        last = max_id;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_redis_password() {
        let c = PublishConfig {
            redis_url: "redis://:s3cret@127.0.0.1:6379".into(),
            stream: "rdapfleet:coverage".into(),
            db: PathBuf::from("crawl.sqlite"),
            poll: Duration::from_millis(200),
            per_entry: 64,
        };
        let d = format!("{c:?}");
        assert!(!d.contains("s3cret"), "{d}");
        assert!(d.contains("redis://***@127.0.0.1:6379"), "{d}");
    }
}
