//! `wasi:keyvalue` (store, atomics, batch) over a component's
//! [`KeyValue`](super::KeyValue) stores.

use wasmtime::component::Resource;

use super::bindings::wasi::keyvalue::{atomics, batch, store};
use super::{Bucket, Cas, KeyValueView, KvError, OpenError};

fn other(e: KvError) -> store::Error {
    store::Error::Other(e)
}

impl store::Host for KeyValueView<'_> {
    async fn open(
        &mut self,
        identifier: String,
    ) -> wasmtime::Result<Result<Resource<Bucket>, store::Error>> {
        let backend = match self.ctx.open(&identifier) {
            Ok(b) => b,
            Err(OpenError::AccessDenied) => return Ok(Err(store::Error::AccessDenied)),
            Err(OpenError::NoSuchStore) => return Ok(Err(store::Error::NoSuchStore)),
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
        Ok(b.get(&key).await.map_err(other))
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
        Ok(b.increment(&key, delta).await.map_err(other))
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
        let current = match backend.get(&key).await {
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
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            match b.get(&k).await {
                Ok(v) => out.push((k, v)),
                Err(e) => return Ok(Err(other(e))),
            }
        }
        Ok(Ok(out))
    }

    async fn set_many(
        &mut self,
        b: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> wasmtime::Result<Result<(), store::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        for (k, v) in key_values {
            if let Err(e) = b.set(&k, v).await {
                return Ok(Err(other(e)));
            }
        }
        Ok(Ok(()))
    }

    async fn delete_many(
        &mut self,
        b: Resource<Bucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<(), store::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        for k in keys {
            if let Err(e) = b.delete(&k).await {
                return Ok(Err(other(e)));
            }
        }
        Ok(Ok(()))
    }
}
