use super::*;
use crate::cache::TenantCacheConfig;
use crate::fakes::{sample_tenant, MemoryDirectory, MemoryKv};

fn h(s: &str) -> Hostname {
    s.parse().unwrap()
}

fn config() -> ResolverConfig {
    ResolverConfig::new(h("app.example"))
}

#[test]
fn hosts_are_classified_against_the_apex() {
    let slug = |s: &str| HostClass::Subdomain(s.parse().unwrap());
    let cases = [
        ("app.example", HostClass::Apex),
        ("acme.app.example", slug("acme")),
        ("xn--bcher-kva.app.example", slug("xn--bcher-kva")),
        ("www.app.example", HostClass::NotATenant),
        ("admin.app.example", HostClass::NotATenant),
        ("a.b.app.example", HostClass::NotATenant),
        ("portal.acme.com", HostClass::CustomDomain),
        ("evilapp.example", HostClass::CustomDomain),
        ("example", HostClass::CustomDomain),
    ];
    for (host, want) in cases {
        assert_eq!(classify(&h(host), &config()), want, "{host}");
    }
    let local = ResolverConfig::new(h("localhost")).with_reserved(["www"]);
    assert_eq!(classify(&h("acme.localhost"), &local), slug("acme"));
    assert_eq!(classify(&h("admin.localhost"), &local), slug("admin"));
}

struct World {
    dir: MemoryDirectory,
    kv: MemoryKv,
}

impl World {
    fn new() -> Self {
        let dir = MemoryDirectory::default();
        dir.upsert(sample_tenant("acme"));
        dir.upsert(sample_tenant("globex"));
        dir.add_domain(h("portal.acme.com"), sample_tenant("acme").id);
        Self {
            dir,
            kv: MemoryKv::default(),
        }
    }

    fn resolve(&self, host: &str, org: Option<TenantRef>) -> Result<String, ResolveError> {
        let cache = TenantCache::new(&self.dir, &self.kv, TenantCacheConfig::default());
        let host = h(host);
        let class = classify(&host, &config());
        resolve(&host, &class, org.as_ref(), &cache, UnixMillis(0))
            .map(|t| t.record().slug.to_string())
    }
}

#[test]
fn each_resolution_path_finds_its_tenant_and_unknowns_are_uniform() {
    let w = World::new();
    let acme_id = TenantRef::Id(sample_tenant("acme").id);
    let nobody = TenantRef::Id(TenantId::from(uuid::Uuid::nil()));
    let ok = |s: &str| Ok(s.to_owned());
    let cases: Vec<(&str, Option<TenantRef>, Result<String, ResolveError>)> = vec![
        ("acme.app.example", None, ok("acme")),
        ("nope.app.example", None, Err(ResolveError::UnknownTenant)),
        ("www.app.example", None, Err(ResolveError::UnknownTenant)),
        (
            "acme.acme.app.example",
            None,
            Err(ResolveError::UnknownTenant),
        ),
        ("portal.acme.com", None, ok("acme")),
        (
            "portal.unverified.com",
            None,
            Err(ResolveError::UnknownTenant),
        ),
        ("app.example", Some(acme_id.clone()), ok("acme")),
        (
            "app.example",
            Some(TenantRef::Slug("globex".parse().unwrap())),
            ok("globex"),
        ),
        (
            "app.example",
            Some(nobody),
            Err(ResolveError::UnknownTenant),
        ),
        ("app.example", None, Err(ResolveError::OrganisationRequired)),
        // The org claim never resolves a tenant host: the host decides.
        ("globex.app.example", Some(acme_id), ok("globex")),
    ];
    for (host, org, want) in cases {
        assert_eq!(w.resolve(host, org.clone()), want, "{host} {org:?}");
    }
}

#[test]
fn directory_down_is_unavailable_not_unknown() {
    let w = World::new();
    w.dir.set_failing(true);
    assert!(matches!(
        w.resolve("acme.app.example", None),
        Err(ResolveError::Unavailable(_))
    ));
    assert!(matches!(
        w.resolve("portal.acme.com", None),
        Err(ResolveError::Unavailable(_))
    ));
    // A host that needs no lookup is still unknown.
    assert_eq!(
        w.resolve("www.app.example", None),
        Err(ResolveError::UnknownTenant)
    );
}
