//! The whole browser round trip against the real pysaml2 IdP (tests/idp/saml/idp.py) on loopback:
//! our AuthnRequest on the redirect binding, its login form, its auto-POST form, our verification.
//!
//! Needs python3 with pysaml2 (tests/idp/saml/requirements.txt) and xmlsec1, so it is ignored by default:
//! `cargo test -p tenantgate-saml --test live_idp -- --ignored`.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use tenantgate_saml::{
    authn_request, parse_idp_metadata, sp_metadata, verify_response, Expectation, IdentityProvider,
    SamlError,
};

/// The IdP process, killed when the test ends however it ends.
struct Idp {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn start_idp() -> Idp {
    let dir = std::env::temp_dir().join(format!("tenantgate-saml-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir = TempDir(dir);
    std::fs::write(dir.0.join("sp.xml"), sp_metadata(&sp())).unwrap();
    std::fs::write(
        dir.0.join("users.json"),
        r#"[{"username":"alice","password":"alice-pw","name_id":"alice@example.com","email":"alice@example.com","name":"Alice"}]"#,
    )
    .unwrap();
    let script = format!("{}/../../tests/idp/saml/idp.py", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("python3")
        .args([
            &script,
            "--port",
            "0",
            "--entity-id",
            IDP_ENTITY,
            "--sp-metadata",
        ])
        .arg(dir.0.join("sp.xml"))
        .arg("--users")
        .arg(dir.0.join("users.json"))
        .arg("--keydir")
        .arg(dir.0.join("keys"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("READY ")
        .and_then(|p| p.parse().ok());
    let Some(port) = port else {
        let _ = child.kill();
        panic!("the IdP did not start: {line:?}");
    };
    Idp {
        child,
        port,
        _dir: dir,
    }
}

/// One HTTP/1.0 exchange with the IdP on 127.0.0.1: (status, body).
fn http(port: u16, method: &str, path: &str, form: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = form.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// The value of the hidden input `name` in an HTML page.
fn hidden(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker)? + marker.len();
    let end = page[start..].find('"')? + start;
    Some(
        page[start..end]
            .replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&#x27;", "'"),
    )
}

fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
#[ignore = "needs python3 with pysaml2 and xmlsec1"]
fn browser_round_trip_with_the_real_idp() {
    let idp_process = start_idp();
    let port = idp_process.port;
    let (status, metadata) = http(port, "GET", "/metadata", None);
    assert_eq!(status, 200);
    let metadata = parse_idp_metadata(&metadata).unwrap();
    let idp = IdentityProvider {
        entity_id: metadata.entity_id,
        sso_url: metadata.sso_redirect_url,
        certificates_der: metadata.certificates_der,
        allow_idp_initiated: false,
    };
    let request_id = "_fedcba9876543210fedcba9876543210";
    let request = authn_request(&sp(), &idp, request_id, now_ms(), Some("/dashboard?tab=1"));
    let path = request
        .redirect_url
        .strip_prefix(&format!("http://127.0.0.1:{port}"))
        .unwrap();
    let (status, login_page) = http(port, "GET", path, None);
    assert_eq!(status, 200, "{login_page}");
    assert!(
        login_page.contains("<label for=\"username\">")
            && login_page.contains("<label for=\"password\">")
    );
    let token = hidden(&login_page, "token").unwrap();

    // Wrong password first: no response is issued.
    let wrong = format!("token={token}&username=alice&password=nope");
    let (status, _) = http(port, "POST", "/login", Some(&wrong));
    assert_eq!(status, 401);

    let form = format!(
        "token={token}&username=alice&password={}",
        url_encode("alice-pw")
    );
    let (status, post_page) = http(port, "POST", "/login", Some(&form));
    assert_eq!(status, 200, "{post_page}");
    assert!(
        post_page.contains(&format!("action=\"{ACS}\"")),
        "{post_page}"
    );
    assert_eq!(
        hidden(&post_page, "RelayState").as_deref(),
        Some("/dashboard?tab=1")
    );
    let saml_response = hidden(&post_page, "SAMLResponse").unwrap();

    let expect = Expectation {
        in_response_to: Some(request_id),
        now_unix_ms: now_ms(),
        skew_ms: SKEW_MS,
    };
    let assertion = verify_response(&saml_response, &sp(), &idp, &expect)
        .expect("the real IdP's response verifies");
    assert_eq!(assertion.name_id, "alice@example.com");
    assert_eq!(assertion.email(), Some("alice@example.com"));
    assert_eq!(assertion.in_response_to.as_deref(), Some(request_id));
    assert!(assertion.not_on_or_after_ms > expect.now_unix_ms);
    // Control the other way: the same response does not answer another request.
    let other = Expectation {
        in_response_to: Some("_00000000000000000000000000000000"),
        ..expect
    };
    assert_eq!(
        verify_response(&saml_response, &sp(), &idp, &other).map(|_| ()),
        Err(SamlError::InResponseTo)
    );
    // The login token is single-use.
    let (status, _) = http(port, "POST", "/login", Some(&form));
    assert_eq!(status, 400);
}
