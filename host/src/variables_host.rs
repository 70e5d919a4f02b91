//! `fermyon:spin/variables` and `wasi:config/store`: a component reads its own
//! `[component.<id>.variables]`, resolved once at start-up. Names it did not declare
//! are undefined, even if another component declares them.

use wasmtime::component::{HasSelf, Linker};

use crate::bindings::fermyon::spin::variables::{self, Error};
use crate::bindings::wasi::config::store as config;
use crate::state::HostState;
use crate::variables::validate_key;

/// Adds both interfaces to `linker`.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    variables::add_to_linker::<_, HasSelf<HostState>>(linker, |s| s)?;
    config::add_to_linker::<_, HasSelf<HostState>>(linker, |s| s)?;
    Ok(())
}

impl HostState {
    fn variable(&self, name: &str) -> Result<Option<String>, Error> {
        validate_key(name).map_err(Error::InvalidName)?;
        Ok(self.component.variables.get(name).cloned())
    }
}

impl variables::Host for HostState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, Error>> {
        Ok(self.variable(&name).and_then(|v| {
            v.ok_or_else(|| {
                Error::Undefined(format!("no variable for {:?}.{name:?}", self.component.id))
            })
        }))
    }
}

impl config::Host for HostState {
    async fn get(
        &mut self,
        key: String,
    ) -> wasmtime::Result<Result<Option<String>, config::Error>> {
        // As in Spin: an invalid or undefined name is simply absent.
        Ok(Ok(self.variable(&key).ok().flatten()))
    }

    async fn get_all(&mut self) -> wasmtime::Result<Result<Vec<(String, String)>, config::Error>> {
        let mut all: Vec<_> = self
            .component
            .variables
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all.sort();
        Ok(Ok(all))
    }
}
