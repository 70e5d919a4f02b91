use super::*;
use crate::fakes::{sample_tenant, MemoryDirectory, MemoryKv};
use crate::tenant::TenantStatus;

fn setup() -> (MemoryDirectory, MemoryKv) {
    let dir = MemoryDirectory::default();
    dir.upsert(sample_tenant("acme"));
    (dir, MemoryKv::default())
}

fn slug(s: &str) -> TenantSlug {
    s.parse().unwrap()
}

#[test]
fn a_warm_entry_is_served_without_the_directory() {
    let (dir, kv) = setup();
    let cache = TenantCache::new(&dir, &kv, TenantCacheConfig::default());
    let t0 = UnixMillis(1_000_000);
    assert_eq!(
        cache.by_slug(&slug("acme"), t0).unwrap().unwrap().slug,
        slug("acme")
    );
    assert_eq!(dir.calls(), 1);
    assert!(cache
        .by_slug(&slug("acme"), t0.plus_millis(4_999))
        .unwrap()
        .is_some());
    assert_eq!(dir.calls(), 1);
}

#[test]
fn a_suspension_is_visible_after_the_staleness_bound() {
    let (dir, kv) = setup();
    let cache = TenantCache::new(&dir, &kv, TenantCacheConfig::default());
    let t0 = UnixMillis(1_000_000);
    cache.by_slug(&slug("acme"), t0).unwrap();
    let mut suspended = sample_tenant("acme");
    suspended.status = TenantStatus::Suspended;
    dir.upsert(suspended);
    // Control: inside the bound the cached (stale) answer is allowed.
    let stale = cache
        .by_slug(&slug("acme"), t0.plus_millis(4_999))
        .unwrap()
        .unwrap();
    assert_eq!(stale.status, TenantStatus::Active);
    // At the bound, the change is visible.
    let fresh = cache
        .by_slug(&slug("acme"), t0.plus_millis(5_000))
        .unwrap()
        .unwrap();
    assert_eq!(fresh.status, TenantStatus::Suspended);
}

#[test]
fn invalidate_makes_a_change_visible_at_once() {
    let (dir, kv) = setup();
    let cache = TenantCache::new(&dir, &kv, TenantCacheConfig::default());
    let t0 = UnixMillis(1_000_000);
    cache.by_slug(&slug("acme"), t0).unwrap();
    let mut suspended = sample_tenant("acme");
    suspended.status = TenantStatus::Suspended;
    dir.upsert(suspended.clone());
    cache.invalidate(&suspended);
    let got = cache
        .by_slug(&slug("acme"), t0.plus_millis(1))
        .unwrap()
        .unwrap();
    assert_eq!(got.status, TenantStatus::Suspended);
}

#[test]
fn negative_answers_are_cached_for_their_own_bound() {
    let (dir, kv) = setup();
    let config = TenantCacheConfig {
        negative_ttl_ms: 1_000,
        ..Default::default()
    };
    let cache = TenantCache::new(&dir, &kv, config);
    let t0 = UnixMillis(1_000_000);
    assert_eq!(cache.by_slug(&slug("newco"), t0).unwrap(), None);
    dir.upsert(sample_tenant("newco"));
    assert_eq!(
        cache.by_slug(&slug("newco"), t0.plus_millis(999)).unwrap(),
        None
    );
    assert_eq!(dir.calls(), 1);
    assert!(cache
        .by_slug(&slug("newco"), t0.plus_millis(1_000))
        .unwrap()
        .is_some());
}

#[test]
fn directory_down_fails_closed_even_with_an_expired_entry() {
    let (dir, kv) = setup();
    let cache = TenantCache::new(&dir, &kv, TenantCacheConfig::default());
    let t0 = UnixMillis(1_000_000);
    cache.by_slug(&slug("acme"), t0).unwrap();
    dir.set_failing(true);
    // Control: a fresh entry is still served while the directory is down.
    assert!(cache
        .by_slug(&slug("acme"), t0.plus_millis(10))
        .unwrap()
        .is_some());
    assert!(cache.by_slug(&slug("acme"), t0.plus_millis(5_000)).is_err());
    assert!(cache.by_id(&sample_tenant("acme").id, t0).is_err());
}

#[test]
fn cache_down_still_answers_correctly_from_the_directory() {
    let (dir, kv) = setup();
    kv.set_failing(true);
    let cache = TenantCache::new(&dir, &kv, TenantCacheConfig::default());
    let t0 = UnixMillis(1_000_000);
    assert!(cache.by_slug(&slug("acme"), t0).unwrap().is_some());
    assert_eq!(cache.by_slug(&slug("nope"), t0).unwrap(), None);
    assert_eq!(dir.calls(), 2);
}

#[test]
fn lookups_by_domain_and_id_are_cached_separately() {
    let (dir, kv) = setup();
    let acme = sample_tenant("acme");
    let domain: Hostname = "portal.acme.com".parse().unwrap();
    dir.add_domain(domain.clone(), acme.id);
    let cache = TenantCache::new(&dir, &kv, TenantCacheConfig::default());
    let t0 = UnixMillis(1_000_000);
    assert_eq!(cache.by_domain(&domain, t0).unwrap().unwrap().id, acme.id);
    assert_eq!(cache.by_id(&acme.id, t0).unwrap().unwrap().slug, acme.slug);
    let other: Hostname = "portal.other.com".parse().unwrap();
    assert_eq!(cache.by_domain(&other, t0).unwrap(), None);
    cache.by_domain(&domain, t0).unwrap();
    assert_eq!(dir.calls(), 3);
}
