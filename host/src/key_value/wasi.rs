//! `wasi:keyvalue` (store, atomics, batch) over a component's
//! [`KeyValue`](super::KeyValue) stores.

use wasmtime::component::Resource;

use super::bindings::wasi::keyvalue::{atomics, batch, store};
use super::{
    get_many_outcome, increment_outcome, keys_within_limit, pairs_within_limit, value_within_limit,
    Bucket, Cas, KeyValueView, KvError, OpenError,
};

fn other(e: KvError) -> store::Error {
    store::Error::Other(e.to_string())
}

impl store::Host for KeyValueView<'_> {
    async fn open(
        &mut self,
        identifier: String,
    ) -> wasmtime::Result<Result<Resource<Bucket>, store::Error>> {
        let backend = match self.ctx.open(&identifier).await {
            Ok(b) => b,
            Err(OpenError::AccessDenied) => return Ok(Err(store::Error::AccessDenied)),
            Err(OpenError::NoSuchStore) => return Ok(Err(store::Error::NoSuchStore)),
            Err(OpenError::Other(e)) => return Ok(Err(other(e))),
        };
        Ok(Ok(self.table.push(Bucket { backend })?))
    }
}

impl store::HostBucket for KeyValueView<'_> {
    async fn get(
        &mut self,
        b: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, store::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        Ok(b.get(&key)
            .await
            .and_then(|v| value_within_limit(&v).map(|()| v))
            .map_err(other))
    }

    async fn set(
        &mut self,
        b: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), store::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        Ok(b.set(&key, value).await.map_err(other))
    }

    async fn delete(
        &mut self,
        b: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<(), store::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        Ok(b.delete(&key).await.map_err(other))
    }

    async fn exists(
        &mut self,
        b: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<bool, store::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        Ok(b.exists(&key).await.map_err(other))
    }

    async fn list_keys(
        &mut self,
        b: Resource<Bucket>,
        cursor: Option<String>,
    ) -> wasmtime::Result<Result<store::KeyResponse, store::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        if cursor.is_some() {
            return Ok(Err(store::Error::Other(
                "cursors are not supported: list-keys returns every key at once".into(),
            )));
        }
        Ok(b.keys()
            .await
            .and_then(|k| keys_within_limit(&k).map(|()| k))
            .map(|keys| store::KeyResponse { keys, cursor: None })
            .map_err(other))
    }

    async fn drop(&mut self, b: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(b)?;
        Ok(())
    }
}

impl atomics::Host for KeyValueView<'_> {
    async fn increment(
        &mut self,
        b: Resource<Bucket>,
        key: String,
        delta: i64,
    ) -> wasmtime::Result<Result<i64, store::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        Ok(increment_outcome(b.increment(&key, delta).await)?.map_err(other))
    }

    async fn swap(
        &mut self,
        cas: Resource<Cas>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), atomics::CasError>> {
        let Cas {
            backend,
            key,
            current,
        } = self.table.delete(cas)?;
        match backend.swap_if(&key, current.clone(), value).await {
            Ok(true) => Ok(Ok(())),
            Ok(false) => {
                // Hand the guest a fresh cas over the value now stored, so it can retry.
                let now = backend.get(&key).await.ok().flatten();
                let fresh = self.table.push(Cas {
                    backend,
                    key,
                    current: now,
                })?;
                Ok(Err(atomics::CasError::CasFailed(fresh)))
            }
            Err(e) => Ok(Err(atomics::CasError::StoreError(other(e)))),
        }
    }
}

impl atomics::HostCas for KeyValueView<'_> {
    async fn new(
        &mut self,
        b: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<Resource<Cas>, store::Error>> {
        let backend = self.table.get(&b)?.backend.clone();
        let current = match backend
            .get(&key)
            .await
            .and_then(|v| value_within_limit(&v).map(|()| v))
        {
            Ok(v) => v,
            Err(e) => return Ok(Err(other(e))),
        };
        Ok(Ok(self.table.push(Cas {
            backend,
            key,
            current,
        })?))
    }

    async fn current(
        &mut self,
        cas: Resource<Cas>,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, store::Error>> {
        Ok(Ok(self.table.get(&cas)?.current.clone()))
    }

    async fn drop(&mut self, cas: Resource<Cas>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl batch::Host for KeyValueView<'_> {
    async fn get_many(
        &mut self,
        b: Resource<Bucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<(String, Option<Vec<u8>>)>, store::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        if keys.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        Ok(get_many_outcome(b.get_many(keys).await)?
            .and_then(|p| pairs_within_limit(&p).map(|()| p))
            .map_err(other))
    }

    async fn set_many(
        &mut self,
        b: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> wasmtime::Result<Result<(), store::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        if key_values.is_empty() {
            return Ok(Ok(()));
        }
        Ok(b.set_many(key_values).await.map_err(other))
    }

    async fn delete_many(
        &mut self,
        b: Resource<Bucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<(), store::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        if keys.is_empty() {
            return Ok(Ok(()));
        }
        Ok(b.delete_many(keys).await.map_err(other))
    }
}
