//! Variables: application and component variables resolved once at start-up
//! ([`resolve`]), and the two guest interfaces that read them,
//! `fermyon:spin/variables` and `wasi:config/store`.
//!
//! A component reads its own `[component.<id>.variables]` ([`Variables`]); names it did
//! not declare are undefined, even if another component declares them. One
//! [`add_to_linker`] adds both interfaces; like wasmtime's `wasi-config`, the view is a
//! plain borrow of the component's values.

use std::collections::HashMap;

use wasmtime::component::{HasData, Linker};

pub mod resolve;

pub use resolve::{
    env_name, validate_key, validate_variable_name, MissingVariable, ResolvedVariables, Template,
    VariableDecl,
};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        inline: "
            package tenantgate:variables;
            world variables {
                import fermyon:spin/variables@2.0.0;
                import wasi:config/store@0.2.0-draft-2024-09-27;
            }
        ",
        imports: { default: async | trappable },
    });
}

use bindings::fermyon::spin::variables::{self as spin_vars, Error};
use bindings::wasi::config::store as config;

/// One component's variables, rendered from their templates at start-up.
pub struct Variables {
    component: String,
    values: HashMap<String, String>,
}

impl Variables {
    /// The variables `values` of component `component`.
    pub fn new(component: &str, values: HashMap<String, String>) -> Variables {
        Variables {
            component: component.to_owned(),
            values,
        }
    }

    fn get(&self, name: &str) -> Result<Option<String>, Error> {
        validate_key(name).map_err(Error::InvalidName)?;
        Ok(self.values.get(name).cloned())
    }
}

/// The variables part of one store's data.
pub struct VariablesView<'a>(pub &'a Variables);

struct VariablesData;

impl HasData for VariablesData {
    type Data<'a> = VariablesView<'a>;
}

/// Adds `fermyon:spin/variables` and `wasi:config/store` to `linker`; `get` finds the
/// view in a store's data.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> VariablesView<'_>,
) -> anyhow::Result<()> {
    spin_vars::add_to_linker::<T, VariablesData>(linker, get)?;
    config::add_to_linker::<T, VariablesData>(linker, get)?;
    Ok(())
}

impl spin_vars::Host for VariablesView<'_> {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, Error>> {
        Ok(self.0.get(&name).and_then(|v| {
            v.ok_or_else(|| {
                Error::Undefined(format!("no variable for {:?}.{name:?}", self.0.component))
            })
        }))
    }
}

impl config::Host for VariablesView<'_> {
    async fn get(
        &mut self,
        key: String,
    ) -> wasmtime::Result<Result<Option<String>, config::Error>> {
        // As in Spin: an invalid or undefined name is simply absent.
        Ok(Ok(self.0.get(&key).ok().flatten()))
    }

    async fn get_all(&mut self) -> wasmtime::Result<Result<Vec<(String, String)>, config::Error>> {
        let mut all: Vec<_> = self
            .0
            .values
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all.sort();
        Ok(Ok(all))
    }
}
