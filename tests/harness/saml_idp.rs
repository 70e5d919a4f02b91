//! A real SAML IdP for tests: `tests/idp/saml/idp.py` (pysaml2, signatures by xmlsec1) in
//! the project's venv (`.tenantgate/venv`, made by `scripts/setup.sh`), on a free loopback
//! port, killed on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use reqwest::redirect::Policy;
use serde_json::Value;

use crate::workspace_root;

/// A user of the IdP.
pub struct SamlUser<'a> {
    /// Login name and password.
    pub username: &'a str,
    /// Password.
    pub password: &'a str,
    /// The NameID sent.
    pub name_id: &'a str,
    /// The `mail` attribute.
    pub email: &'a str,
}

/// A running IdP.
pub struct SamlIdp {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

/// What the IdP posts back to the service provider.
#[derive(Debug, Clone)]
pub struct PostBack {
    /// The form's action (the ACS URL).
    pub action: String,
    /// `SAMLResponse`.
    pub saml_response: String,
    /// `RelayState`, when sent.
    pub relay_state: Option<String>,
}

fn python() -> std::path::PathBuf {
    let venv = workspace_root().join(".tenantgate/venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run scripts/setup.sh",
        venv.display()
    );
    venv
}

impl SamlIdp {
    /// Starts the IdP as `entity_id`, answering the SPs whose metadata XML is given.
    pub fn start(entity_id: &str, sp_metadata: &[String], users: &[SamlUser]) -> SamlIdp {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut args = vec![
            workspace_root()
                .join("tests/idp/saml/idp.py")
                .display()
                .to_string(),
            "--port".into(),
            "0".into(),
            "--entity-id".into(),
            entity_id.into(),
            "--sp-metadata".into(),
        ];
        for (i, xml) in sp_metadata.iter().enumerate() {
            let path = dir.path().join(format!("sp{i}.xml"));
            std::fs::write(&path, xml).unwrap();
            args.push(path.display().to_string());
        }
        let users: Vec<Value> = users
            .iter()
            .map(|u| {
                serde_json::json!({"username": u.username, "password": u.password,
                    "name_id": u.name_id, "email": u.email, "name": u.username})
            })
            .collect();
        let users_path = dir.path().join("users.json");
        std::fs::write(&users_path, serde_json::to_vec(&users).unwrap()).unwrap();
        args.extend([
            "--users".into(),
            users_path.display().to_string(),
            "--keydir".into(),
            dir.path().join("keys").display().to_string(),
        ]);
        let mut child = Command::new(python())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the SAML IdP starts");
        // Its first line is `READY <port>`; a start-up that hangs is a failure, not a hung test.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("the SAML IdP did not say READY within 60 s");
            });
        let Some(port) = line
            .trim()
            .strip_prefix("READY ")
            .and_then(|p| p.parse().ok())
        else {
            let _ = child.kill();
            panic!("the SAML IdP did not start: {line:?}");
        };
        SamlIdp {
            child,
            port,
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The metadata URL.
    pub fn metadata_url(&self) -> String {
        format!("{}/metadata", self.base())
    }

    /// Plays the browser at the IdP: opens the redirect URL (the AuthnRequest), posts the
    /// login form, and returns the form the IdP would auto-submit to the SP.
    pub async fn login(&self, redirect_url: &str, username: &str, password: &str) -> PostBack {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .no_proxy()
            .build()
            .unwrap();
        let page = http
            .get(redirect_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = hidden(&page, "token").unwrap_or_else(|| panic!("no login form: {page}"));
        let resp = http
            .post(format!("{}/login", self.base()))
            .form(&[
                ("token", token.as_str()),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .unwrap();
        let page = resp.text().await.unwrap();
        PostBack {
            action: attribute(&page, "action").unwrap_or_else(|| panic!("no post-back: {page}")),
            saml_response: hidden(&page, "SAMLResponse").expect("SAMLResponse"),
            relay_state: hidden(&page, "RelayState"),
        }
    }

    /// A response minted with the test knobs of `idp.py` (`POST /test/mint`), signed by the
    /// real IdP.
    pub async fn mint(&self, knobs: Value) -> String {
        let v: Value = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(format!("{}/test/mint", self.base()))
            .json(&knobs)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["SAMLResponse"]
            .as_str()
            .unwrap_or_else(|| panic!("mint: {v}"))
            .to_owned()
    }
}

impl Drop for SamlIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of the hidden input `name` in an HTML page.
fn hidden(page: &str, name: &str) -> Option<String> {
    let at = page.find(&format!("name=\"{name}\""))?;
    let tag_start = page[..at].rfind('<')?;
    let tag_end = at + page[at..].find('>')?;
    attribute(&page[tag_start..=tag_end], "value")
}

fn attribute(html: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = html.find(&key)? + key.len();
    let end = start + html[start..].find('"')?;
    Some(html_unescape(&html[start..end]))
}
