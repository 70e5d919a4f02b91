//! Host bindings for the Spin interfaces in `wit/` (see `wit/host.wit`).
//!
//! Resources map to host types owned by the capability modules, so each module
//! keeps its own state in the store's [`ResourceTable`](wasmtime::component::ResourceTable).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "tenantgate:host/spin-imports",
    imports: { default: async | trappable },
    with: {
        "fermyon:spin/key-value.store": crate::kv::SpinStore,
        "fermyon:spin/redis.connection": crate::redis_host::RedisConnection,
        "spin:postgres/postgres.connection": crate::pg::PgConnection,
        "wasi:keyvalue/store.bucket": crate::kv::Bucket,
        "wasi:keyvalue/atomics.cas": crate::kv::Cas,
    },
});
