//! The control plane's one error type: each variant says what it stopped, with the values an operator
//! needs to act on it, and Postgres, I/O and DNS errors kept as sources.
//!
//! A variant's `Display` is the operator-facing sentence without its source;
//! [`report()`](crate::report()) renders an error with its whole chain the way the `tenantgate` CLI
//! prints it (a Postgres error as its server message, detail and hint). Refusals say "nothing
//! changed" where the command guarantees it.

use std::path::PathBuf;

/// The result of every control-plane operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a control-plane operation stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // Connections and configuration.
    /// A `--target` value that is not `name=postgres://...`, or names a target twice.
    #[error("{0}")]
    InvalidTarget(String),
    /// A placement names a database target the command was given no URL for.
    #[error("database target {0:?} has no connection string (pass --target {0}=postgres://...)")]
    UnknownTarget(String),
    /// A database could not be reached.
    #[error("connecting to database {database}")]
    Connect {
        /// The database (`control`, or a target's name).
        database: String,
        /// Why.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A statement failed; `doing` says which step.
    #[error("{doing}")]
    Postgres {
        /// The step, e.g. `reading tenant "acme"`.
        doing: String,
        /// The error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A file could not be read or written.
    #[error("{doing}")]
    Io {
        /// The step, e.g. `writing ./out/manifest.json`.
        doing: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The routing table or the catalog holds something the control plane cannot work with.
    #[error("{0}")]
    Inconsistent(String),

    // Tenants.
    /// No tenant has this slug.
    #[error("no tenant with slug {slug:?}")]
    UnknownTenant {
        /// The slug asked for.
        slug: String,
    },
    /// The slug is not a DNS label.
    #[error(
        "slug {slug:?} must be a DNS label: lower-case a-z, 0-9 and '-', 1 to 63 characters, not starting or ending with '-'"
    )]
    InvalidSlug {
        /// The slug.
        slug: String,
    },
    /// The slug is reserved for the platform.
    #[error("slug {slug:?} is reserved (www, api, admin, app, ...)")]
    SlugReserved {
        /// The slug.
        slug: String,
    },
    /// Another tenant has the slug.
    #[error("a tenant with slug {slug:?} already exists")]
    SlugTaken {
        /// The slug.
        slug: String,
    },
    /// The plan does not exist.
    #[error("no such plan (free, pro, enterprise)")]
    UnknownPlan,
    /// A limit, limits document, plan id or date given on the command line is not valid.
    #[error("{0}")]
    InvalidLimits(String),
    /// SSO settings given on the command line are not valid, or the tenant has none.
    #[error("{0}")]
    InvalidSso(String),
    /// The identity provider's discovery document, JWKS or metadata could not be fetched or
    /// is not acceptable.
    #[error("identity provider: {0}")]
    IdpFetch(String),
    /// The display name is empty or too long.
    #[error("the name must be 1 to 200 characters")]
    InvalidName,
    /// The placement given on the command line is not a valid one.
    #[error("{0}")]
    InvalidPlacement(String),
    /// Another tenant already uses this schema or dedicated database.
    #[error("{placement} already holds tenant {holder:?}")]
    PlacementTaken {
        /// The placement, as its migration key.
        placement: String,
        /// The tenant there.
        holder: String,
    },
    /// Migrating a new placement (or its database) failed; the report's text says where and why.
    #[error("preparing {placement}: {error}")]
    PreparePlacement {
        /// `database <name>` or the placement key.
        placement: String,
        /// The migration failure.
        error: String,
    },

    // Lifecycle, purge, move.
    /// The change does not fit the tenant's status (suspending a suspended tenant, ...).
    #[error("tenant {slug:?} is {status}: only a tenant that is {} can be {verb}; nothing changed", allowed.join(" or "))]
    WrongStatus {
        /// The tenant.
        slug: String,
        /// Its status.
        status: String,
        /// The statuses the change applies to.
        allowed: &'static [&'static str],
        /// What the change does (`suspended`, ...).
        verb: &'static str,
    },
    /// `--grace-days` outside 1 to 365.
    #[error("the grace period must be 1 to 365 days, not {0}")]
    GracePeriodRange(u32),
    /// A restore after the grace period.
    #[error(
        "tenant {slug:?} can no longer be restored: its grace period ended at {ended}; nothing changed"
    )]
    GracePeriodOver {
        /// The tenant.
        slug: String,
        /// When it ended (UTC).
        ended: String,
    },
    /// A purge of a tenant that is not deleted.
    #[error("tenant {slug:?} is {status}: only a deleted tenant is purged (`tenantgate tenant delete` first); nothing changed")]
    NotDeleted {
        /// The tenant.
        slug: String,
        /// Its status.
        status: String,
    },
    /// A purge within the grace period.
    #[error("tenant {slug:?} is within its grace period until {until}: it is purged only after that; nothing changed")]
    GracePeriodRunning {
        /// The tenant.
        slug: String,
        /// When it ends (UTC).
        until: String,
    },
    /// Another move or purge holds the tenant's data lock.
    #[error("tenant {slug:?} is being moved or purged by another command")]
    TenantBusy {
        /// The tenant.
        slug: String,
    },
    /// A deleted tenant cannot be moved, nor its domains changed.
    #[error("tenant {slug:?} is deleted; {refused}")]
    TenantDeleted {
        /// The tenant.
        slug: String,
        /// What is refused, e.g. `a deleted tenant is not moved`.
        refused: &'static str,
    },
    /// A move to where the tenant already is.
    #[error("tenant {slug:?} is already in {placement}")]
    AlreadyPlaced {
        /// The tenant.
        slug: String,
        /// Its placement.
        placement: String,
    },
    /// Source and destination tables differ: the destination is not migrated like the source.
    #[error("{table} differs between {from} and {to} (run `tenantgate migrate` first): {source_columns:?} vs {destination_columns:?}")]
    SchemaDiffers {
        /// The table.
        table: String,
        /// The source placement.
        from: String,
        /// The destination placement.
        to: String,
        /// (name, type) of the source's columns.
        source_columns: Vec<(String, String)>,
        /// (name, type) of the destination's columns.
        destination_columns: Vec<(String, String)>,
    },
    /// The copy's count or checksum differs from the source's.
    #[error("{table}: the copy does not match ({} rows, {} vs {} rows, {})", copied.0, copied.1, found.0, found.1)]
    CopyMismatch {
        /// The table.
        table: String,
        /// (rows, checksum) read from the source.
        copied: (i64, String),
        /// (rows, checksum) found in the destination.
        found: (i64, String),
    },
    /// The source changed after it was copied (a write got through).
    #[error("{table} was written during the move ({copied} rows copied, {now} now)")]
    WrittenDuringMove {
        /// The table.
        table: String,
        /// Rows copied.
        copied: i64,
        /// Rows now.
        now: i64,
    },
    /// A move stopped before its flip; it was undone as far as `cleanup` says.
    #[error("move failed, the old placement is still authoritative{}", cleanup.iter().map(|c| format!("; {c}")).collect::<String>())]
    MoveFailed {
        /// What undoing it could not do (the partial copy, read-only), if anything.
        cleanup: Vec<String>,
        /// Why it stopped.
        #[source]
        cause: Box<Error>,
    },
    /// The test-only pause hook (`MoveOptions::pause`) was not released in time.
    #[error("test pause {0} was not released in time")]
    PauseTimedOut(PathBuf),

    // Export.
    /// An export would write over something.
    #[error("{} is not empty: an export goes into a new or empty directory and never overwrites", .0.display())]
    ExportDirNotEmpty(PathBuf),

    // Domains.
    /// Not a bare domain name; the text says why.
    #[error("{0}")]
    InvalidDomain(String),
    /// The domain routes to another tenant (or to this one already).
    #[error("{domain} is verified for tenant {owner:?}; it must be revoked there first")]
    DomainTaken {
        /// The domain.
        domain: String,
        /// The tenant it routes to.
        owner: String,
    },
    /// `domain add` for a domain the tenant has verified already.
    #[error("{domain} is already verified for {slug}")]
    DomainAlreadyVerified {
        /// The domain.
        domain: String,
        /// The tenant.
        slug: String,
    },
    /// `domain verify` of a domain the tenant never claimed.
    #[error(
        "{domain} is not a domain of {slug}; claim it first: tenantgate domain add {slug} {domain}"
    )]
    DomainNotClaimed {
        /// The domain.
        domain: String,
        /// The tenant.
        slug: String,
    },
    /// `domain verify` of a revoked claim.
    #[error("{domain} was revoked for {slug}; claim it again for a new token: tenantgate domain add {slug} {domain}")]
    DomainRevoked {
        /// The domain.
        domain: String,
        /// The tenant.
        slug: String,
    },
    /// `domain revoke` of a domain the tenant holds no live claim on.
    #[error("{domain} is not a pending or verified domain of {slug}")]
    NoLiveClaim {
        /// The domain.
        domain: String,
        /// The tenant.
        slug: String,
    },
    /// The token was not found; `evidence` says what was found instead.
    #[error("{domain} is not verified for {slug}:\n  {}\n{instructions}", evidence.join("\n  "))]
    DomainNotVerified {
        /// The domain.
        domain: String,
        /// The tenant.
        slug: String,
        /// One line per check.
        evidence: Vec<String>,
        /// How to publish the token.
        instructions: String,
    },
    /// The claim was revoked or claimed again while it was checked.
    #[error("the claim on {0} changed while it was checked (revoked or claimed again); run verify again")]
    ClaimChanged(String),
    /// `--method` is not dns, http or any.
    #[error("method {0:?} is not one of dns, http, any")]
    UnknownMethod(String),
    /// The resolver could not be set up.
    #[error("{doing}")]
    Dns {
        /// The step.
        doing: &'static str,
        /// Why.
        #[source]
        source: hickory_resolver::net::NetError,
    },
    /// The system gave no randomness for a token.
    #[error("no randomness for a token: {0}")]
    NoRandomness(getrandom::Error),

    // Migrations.
    /// A migration file is misnamed, unscoped, unreadable as a set.
    #[error("{0}")]
    InvalidMigrations(String),
    /// Another `tenantgate migrate` holds the lock.
    #[error("another `tenantgate migrate` is running against this control plane")]
    MigrateRunning,
}
