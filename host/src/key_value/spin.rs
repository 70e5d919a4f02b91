//! `fermyon:spin/key-value` over a component's [`KeyValue`](super::KeyValue) stores.

use wasmtime::component::Resource;

use super::bindings::fermyon::spin::key_value::{self as spin_kv, Error};
use super::{keys_within_limit, value_within_limit, KeyValueView, KvError, OpenError, SpinStore};

fn other(e: KvError) -> Error {
    Error::Other(e.to_string())
}

impl spin_kv::Host for KeyValueView<'_> {}

impl spin_kv::HostStore for KeyValueView<'_> {
    async fn open(
        &mut self,
        label: String,
    ) -> wasmtime::Result<Result<Resource<SpinStore>, Error>> {
        let backend = match self.ctx.open(&label).await {
            Ok(b) => b,
            Err(OpenError::AccessDenied) => return Ok(Err(Error::AccessDenied)),
            Err(OpenError::NoSuchStore) => return Ok(Err(Error::NoSuchStore)),
            Err(OpenError::Other(e)) => return Ok(Err(other(e))),
        };
        Ok(Ok(self.table.push(SpinStore { backend })?))
    }

    async fn get(
        &mut self,
        s: Resource<SpinStore>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let b = self.table.get(&s)?.backend.clone();
        Ok(b.get(&key)
            .await
            .and_then(|v| value_within_limit(&v).map(|()| v))
            .map_err(other))
    }

    async fn set(
        &mut self,
        s: Resource<SpinStore>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let b = self.table.get(&s)?.backend.clone();
        Ok(b.set(&key, value).await.map_err(other))
    }

    async fn delete(
        &mut self,
        s: Resource<SpinStore>,
        key: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        let b = self.table.get(&s)?.backend.clone();
        Ok(b.delete(&key).await.map_err(other))
    }

    async fn exists(
        &mut self,
        s: Resource<SpinStore>,
        key: String,
    ) -> wasmtime::Result<Result<bool, Error>> {
        let b = self.table.get(&s)?.backend.clone();
        Ok(b.exists(&key).await.map_err(other))
    }

    async fn get_keys(
        &mut self,
        s: Resource<SpinStore>,
    ) -> wasmtime::Result<Result<Vec<String>, Error>> {
        let b = self.table.get(&s)?.backend.clone();
        Ok(b.keys()
            .await
            .and_then(|k| keys_within_limit(&k).map(|()| k))
            .map_err(other))
    }

    async fn drop(&mut self, s: Resource<SpinStore>) -> wasmtime::Result<()> {
        self.table.delete(s)?;
        Ok(())
    }
}
