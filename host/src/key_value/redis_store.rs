//! The Redis key-value backend (`type = "redis"`): connected when a guest first opens
//! the store (as Spin's `KeyValueRedis::get`), so a Redis outage is an error value for
//! the requests that need it (`open` fails until the server answers), not a host that
//! will not start. As in Spin, labels are ignored: every label on one Redis URL shares
//! its keys. Counters use `INCRBY` (decimal ASCII, as Spin's Redis store); the batch
//! operations send Spin's commands (`get-many` is Spin's `KEYS` call: an error, nothing,
//! or a trap where Spin panics; `MSET`; `DEL`); compare-and-swap is a Lua script, so a
//! conflict is always reported (Spin's Redis store does not).

use redis::AsyncCommands as _;

use super::backend::{KvBackend, KvError};

/// A store on a Redis server.
pub struct RedisStore {
    client: redis::Client,
    conn: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
}

const CAS_SCRIPT: &str = r#"
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if cur ~= ARGV[2] then return 0 end
else
  if cur then return 0 end
end
redis.call('SET', KEYS[1], ARGV[3])
return 1
"#;

fn err(e: redis::RedisError) -> KvError {
    KvError::backend(e)
}

impl RedisStore {
    /// A store for `url`; the URL is checked now, the connection made on first use.
    pub fn new(url: &str) -> anyhow::Result<RedisStore> {
        Ok(RedisStore {
            client: redis::Client::open(url)?,
            conn: tokio::sync::OnceCell::new(),
        })
    }

    async fn conn(&self) -> Result<redis::aio::ConnectionManager, KvError> {
        let cfg = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(std::time::Duration::from_secs(2))
            .set_response_timeout(std::time::Duration::from_secs(2))
            .set_number_of_retries(1);
        self.conn
            .get_or_try_init(|| {
                redis::aio::ConnectionManager::new_with_config(self.client.clone(), cfg)
            })
            .await
            .cloned()
            .map_err(|e| KvError::Unavailable(e.to_string()))
    }
}

#[async_trait::async_trait]
impl KvBackend for RedisStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.conn().await?.get(key).await.map_err(err)
    }

    async fn set(&self, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        self.conn().await?.set(key, value).await.map_err(err)
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.conn().await?.del(key).await.map_err(err)
    }

    async fn exists(&self, key: &str) -> Result<bool, KvError> {
        self.conn().await?.exists(key).await.map_err(err)
    }

    async fn keys(&self) -> Result<Vec<String>, KvError> {
        let mut conn = self.conn().await?;
        let mut out = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(err)?;
            out.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        out.sort();
        Ok(out)
    }

    async fn ready(&self) -> Result<(), KvError> {
        self.conn().await.map(drop)
    }

    async fn get_many(&self, keys: Vec<String>) -> Result<Vec<(String, Option<Vec<u8>>)>, KvError> {
        // Spin 3.6-4.x send `KEYS <keys...>` here (not `MGET`) and read the reply as
        // pairs: more than one key is Redis's arity error (`other`), a key that matches
        // nothing an empty answer, and a reply with keys makes redis-rs panic inside
        // Spin's host call (the request dies): [`KvError::GetManyPanics`], a trap here.
        let reply: redis::Value = self.conn().await?.keys(keys).await.map_err(err)?;
        match reply {
            redis::Value::Array(items) if items.is_empty() => Ok(Vec::new()),
            _ => Err(KvError::GetManyPanics),
        }
    }

    async fn set_many(&self, pairs: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
        self.conn().await?.mset(&pairs).await.map_err(err)
    }

    async fn delete_many(&self, keys: Vec<String>) -> Result<(), KvError> {
        self.conn().await?.del(keys).await.map_err(err)
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        self.conn().await?.incr(key, delta).await.map_err(err)
    }

    async fn swap_if(
        &self,
        key: &str,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
    ) -> Result<bool, KvError> {
        let (flag, exp) = match expected {
            Some(v) => ("1", v),
            None => ("0", Vec::new()),
        };
        let swapped: i64 = redis::Script::new(CAS_SCRIPT)
            .key(key)
            .arg(flag)
            .arg(exp)
            .arg(new)
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(err)?;
        Ok(swapped == 1)
    }
}
