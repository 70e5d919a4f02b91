use super::*;
use crate::fakes::{MemoryDirectory, MemoryKv};

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: UnixMillis = UnixMillis(1_700_000_000_000);

fn tid(n: u8) -> TenantId {
    TenantId::from(uuid::Uuid::from_bytes([n; 16]))
}

fn sid() -> uuid::Uuid {
    uuid::Uuid::from_bytes([7; 16])
}

fn config() -> SessionConfig {
    SessionConfig {
        key: SessionKey::new(KEY),
        ..Default::default()
    }
}

fn row(tenant: TenantId) -> SessionRow {
    SessionRow {
        tenant,
        user_id: uuid::Uuid::from_bytes([9; 16]),
        role: "member".into(),
        permissions: vec!["tasks.read".into()],
        expires_in: 3600,
    }
}

#[test]
fn short_keys_are_refused() {
    assert!(SessionKey::new(&KEY[..31]).is_none());
    assert!(SessionKey::new(KEY).is_some());
}

#[test]
fn a_cookie_opens_with_its_key_only_and_until_it_expires() {
    let key = SessionKey::new(KEY).unwrap();
    let value = key.issue(sid(), &tid(1), NOW.as_secs() + 60);
    let opened = key.open(&value, NOW).unwrap();
    assert_eq!((opened.sid, opened.tid), (sid(), tid(1)));
    let other = SessionKey::new(b"another-key-another-key-another!").unwrap();
    assert_eq!(other.open(&value, NOW), Err(SessionError::Tampered));
    assert_eq!(
        key.open(&value, UnixMillis(NOW.0 + 60_000)),
        Err(SessionError::Expired)
    );
}

#[test]
fn any_change_to_a_cookie_is_tampering() {
    let key = SessionKey::new(KEY).unwrap();
    let value = key.issue(sid(), &tid(1), NOW.as_secs() + 60);
    // Each byte changed, and the expiry pushed out with the old MAC.
    for i in 0..value.len() {
        let mut bytes = value.clone().into_bytes();
        bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
        let changed = String::from_utf8(bytes).unwrap();
        if changed != value {
            assert!(key.open(&changed, NOW).is_err(), "{changed}");
        }
    }
    let (body, mac) = value.rsplit_once('.').unwrap();
    let (head, _) = body.rsplit_once('.').unwrap();
    let longer = format!("{head}.{}.{mac}", NOW.as_secs() + 999_999);
    assert_eq!(key.open(&longer, NOW), Err(SessionError::Tampered));
    for junk in ["", ".", "s1....", "s1.a.b.c.d", &"x".repeat(500)] {
        assert_eq!(key.open(junk, NOW), Err(SessionError::Tampered), "{junk}");
    }
}

#[test]
fn a_session_is_checked_against_the_tenant_and_the_directory() {
    let dir = MemoryDirectory::default();
    let kv = MemoryKv::default();
    let cfg = config();
    let key = cfg.key.clone().unwrap();
    let value = key.issue(sid(), &tid(1), NOW.as_secs() + 1800);
    // Not live in the directory: revoked.
    assert_eq!(
        authenticate(&value, &tid(1), &cfg, &dir, &kv, NOW),
        Err(SessionError::Revoked)
    );
    dir.set_session(sid(), Some(row(tid(1))));
    // The negative answer is cached for the state TTL, then the live one is seen.
    let later = UnixMillis(NOW.0 + cfg.state_ttl_ms + 1);
    let ok = authenticate(&value, &tid(1), &cfg, &dir, &kv, later).unwrap();
    assert_eq!(ok.user_id, row(tid(1)).user_id);
    assert_eq!(ok.permissions.len(), 1);
    assert!(ok.renewed.is_none(), "fresh cookie not renewed");
    // Another tenant's host.
    assert_eq!(
        authenticate(&value, &tid(2), &cfg, &dir, &kv, later),
        Err(SessionError::OtherTenant)
    );
    // Warm: no directory call.
    let calls = dir.calls();
    authenticate(&value, &tid(1), &cfg, &dir, &kv, later).unwrap();
    assert_eq!(dir.calls(), calls);
    // Ended: seen within the state TTL.
    dir.set_session(sid(), None);
    let after = UnixMillis(later.0 + cfg.state_ttl_ms + 1);
    assert_eq!(
        authenticate(&value, &tid(1), &cfg, &dir, &kv, after),
        Err(SessionError::Revoked)
    );
}

#[test]
fn the_directory_being_down_fails_closed() {
    let dir = MemoryDirectory::default();
    let kv = MemoryKv::default();
    let cfg = config();
    let value = cfg
        .key
        .as_ref()
        .unwrap()
        .issue(sid(), &tid(1), NOW.as_secs() + 60);
    dir.set_failing(true);
    assert_eq!(
        authenticate(&value, &tid(1), &cfg, &dir, &kv, NOW),
        Err(SessionError::Unavailable)
    );
}

#[test]
fn cookies_are_renewed_past_half_their_life_never_past_the_session() {
    let dir = MemoryDirectory::default();
    let kv = MemoryKv::default();
    let cfg = config();
    let key = cfg.key.clone().unwrap();
    let mut short = row(tid(1));
    short.expires_in = 100;
    dir.set_session(sid(), Some(short));
    let value = key.issue(sid(), &tid(1), NOW.as_secs() + 60);
    let s = authenticate(&value, &tid(1), &cfg, &dir, &kv, NOW).unwrap();
    let (renewed, exp) = s.renewed.expect("renewed");
    assert_eq!(exp, NOW.as_secs() + 100);
    assert_eq!(key.open(&renewed, NOW).unwrap().exp, exp);
}

#[test]
fn cookie_attributes() {
    let plain = set_cookie("v", 60, false);
    assert_eq!(
        plain,
        "tg_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
    );
    let tls = set_cookie("v", 60, true);
    assert!(tls.starts_with("__Host-tg_session=v; Path=/;"));
    assert!(tls.ends_with("; Secure"));
    assert!(!tls.contains("Domain"));
    assert!(clear_cookie(false).contains("Max-Age=0"));
}
