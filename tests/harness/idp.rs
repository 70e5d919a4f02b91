//! A real OpenID Connect provider for the SSO tests: `tests/idp/oidc/server.mjs` (npm
//! `oidc-provider`) run by Node.js on a free loopback port, killed on drop.
//!
//! The provider does the authorisation code flow only, requires PKCE S256, puts the RFC 9207 `iss`
//! parameter in every authorisation response, issues ID tokens carrying `email`,
//! `email_verified` and `name`, and no refresh tokens. [`OidcIdp::login`] plays the browser at
//! the IdP (and only there) and hands back the redirect to the relying party unrequested.
//!
//! ```no_run
//! # async fn demo() {
//! use tenantgate_tests::idp::{OidcClient, OidcIdp, OidcUser};
//! let idp = OidcIdp::start(
//!     &[OidcClient::new("acme", "s3cret", &["http://acme.localhost:8080/auth/oidc/callback"])],
//!     &[OidcUser::new("alice", "pw", "alice@acme.test")],
//! );
//! let authorize_url = format!("{}/auth?client_id=acme&...", idp.issuer());
//! let callback = idp.login(&authorize_url, "alice", "pw").await; // ...?code=..&state=..&iss=..
//! # }
//! ```

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use reqwest::redirect::Policy;
use reqwest::{StatusCode, Url};
use serde_json::{json, Value};

use crate::{free_port, workspace_root};

/// How long the IdP may take to print `READY` (Node and oidc-provider start in about a second).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests [`OidcIdp::login`] makes at most before it gives up (a normal login takes six).
const MAX_LOGIN_STEPS: usize = 16;

/// How a client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic (`client_secret_basic`), the default.
    Basic,
    /// Credentials in the form body (`client_secret_post`).
    Post,
}

/// A relying party registered at the IdP.
#[derive(Clone, Debug)]
pub struct OidcClient {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: String,
    /// Exact redirect URIs the IdP accepts.
    pub redirect_uris: Vec<String>,
    /// The one token endpoint auth method the IdP accepts from this client.
    pub auth: ClientAuth,
}

impl OidcClient {
    /// A `client_secret_basic` client.
    pub fn new(client_id: &str, client_secret: &str, redirect_uris: &[&str]) -> OidcClient {
        OidcClient {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            redirect_uris: redirect_uris.iter().map(|u| (*u).to_owned()).collect(),
            auth: ClientAuth::Basic,
        }
    }

    /// The same client authenticating with `client_secret_post` instead.
    pub fn with_post_auth(mut self) -> OidcClient {
        self.auth = ClientAuth::Post;
        self
    }
}

/// A user who can log in at the IdP, by `sub` or by `email`.
#[derive(Clone, Debug)]
pub struct OidcUser {
    /// The subject (`sub`) and a login name.
    pub sub: String,
    /// The password the login form checks.
    pub password: String,
    /// `email` claim (also a login name); may be of any domain (an attack knob).
    pub email: String,
    /// `email_verified` claim (false is an attack knob).
    pub email_verified: bool,
    /// `name` claim.
    pub name: String,
}

impl OidcUser {
    /// A user with a verified email, named after `sub`.
    pub fn new(sub: &str, password: &str, email: &str) -> OidcUser {
        OidcUser {
            sub: sub.to_owned(),
            password: password.to_owned(),
            email: email.to_owned(),
            email_verified: true,
            name: sub.to_owned(),
        }
    }

    /// The same user with `email_verified: false`.
    pub fn unverified(mut self) -> OidcUser {
        self.email_verified = false;
        self
    }
}

/// What the IdP does to the `iss` parameter of its authorisation responses (attack knob).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ResponseIss {
    /// RFC 9207: `iss` is the issuer (the default).
    #[default]
    Issuer,
    /// `iss` is left out although discovery says it is supported.
    Omit,
    /// `iss` is this value instead (a mix-up as the relying party sees it).
    Replace(String),
}

/// Less common settings of the IdP; `Default` is what [`OidcIdp::start`] uses.
#[derive(Clone, Debug, Default)]
pub struct IdpOptions {
    /// oidc-provider lifetimes in seconds, e.g. `("AuthorizationCode", 5)`, `("IdToken", 60)`.
    pub ttl: Vec<(String, u64)>,
    /// Show a one-click consent page instead of granting consent silently.
    pub confirm_consent: bool,
    /// What happens to `iss` in authorisation responses.
    pub response_iss: ResponseIss,
}

/// Why [`OidcIdp::try_login`] did not reach the relying party.
#[derive(Debug)]
pub enum LoginError {
    /// The login form came back with this alert (wrong username or password).
    Rejected(String),
    /// The IdP answered with an error or a page the harness does not know.
    Idp {
        /// The response status.
        status: StatusCode,
        /// The response body (HTML).
        body: String,
    },
    /// More than [`MAX_LOGIN_STEPS`] requests without leaving the IdP.
    TooManySteps,
    /// The request itself failed.
    Http(reqwest::Error),
}

impl std::fmt::Display for LoginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoginError::Rejected(alert) => write!(f, "login rejected: {alert}"),
            LoginError::Idp { status, body } => write!(f, "IdP answered {status}: {body}"),
            LoginError::TooManySteps => write!(f, "no redirect to the relying party"),
            LoginError::Http(e) => write!(f, "request to the IdP failed: {e}"),
        }
    }
}

impl std::error::Error for LoginError {}

impl From<reqwest::Error> for LoginError {
    fn from(e: reqwest::Error) -> LoginError {
        LoginError::Http(e)
    }
}

/// A running OIDC provider at `http://127.0.0.1:<port>`.
pub struct OidcIdp {
    child: Child,
    issuer: String,
    stderr: Arc<Mutex<String>>,
    _config: tempfile::TempDir,
}

impl OidcIdp {
    /// Starts the IdP with these clients and users on a free port and waits until it listens.
    ///
    /// Panics when Node.js or the npm packages are missing (run `scripts/setup.sh`) or when the
    /// IdP does not start within 30 s; the panic carries its stderr.
    pub fn start(clients: &[OidcClient], users: &[OidcUser]) -> OidcIdp {
        Self::start_with(clients, users, &IdpOptions::default())
    }

    /// [`OidcIdp::start`] with [`IdpOptions`].
    pub fn start_with(clients: &[OidcClient], users: &[OidcUser], options: &IdpOptions) -> OidcIdp {
        let dir = workspace_root().join("tests/idp/oidc");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "{}/node_modules is missing: run scripts/setup.sh",
            dir.display()
        );
        // A port taken between free_port() and node's listen() is retried with another.
        let mut last_err = String::new();
        for _ in 0..3 {
            let port = free_port();
            let config_dir = tempfile::tempdir().expect("a temp dir");
            let config = config_dir.path().join("idp.json");
            let doc = config_json(port, clients, users, options);
            std::fs::write(&config, doc.to_string()).expect("write the IdP config");
            let mut child = Command::new("node")
                .arg("server.mjs")
                .arg("--config")
                .arg(&config)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("node (run scripts/setup.sh)");
            let stderr = drain(child.stderr.take().expect("piped stderr"));
            let ready = wait_ready(child.stdout.take().expect("piped stdout"));
            match ready.recv_timeout(START_TIMEOUT) {
                Ok(issuer) => {
                    return OidcIdp {
                        child,
                        issuer,
                        stderr,
                        _config: config_dir,
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_err = stderr.lock().expect("stderr lock").clone();
                    if !last_err.contains("EADDRINUSE") {
                        break;
                    }
                }
            }
        }
        panic!("the OIDC IdP did not start:\n{last_err}");
    }

    /// The issuer, `http://127.0.0.1:<port>` (no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `<issuer>/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// What the IdP wrote to stderr so far (warnings, server errors).
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// Logs `username` in at the IdP for `authorize_url` and returns the redirect back to the
    /// relying party (e.g. `…/auth/oidc/callback?code=…&state=…&iss=…`, or `?error=…` when the
    /// IdP refuses the request), without requesting it. Panics when no such redirect comes.
    pub async fn login(&self, authorize_url: &str, username: &str, password: &str) -> String {
        match self.try_login(authorize_url, username, password).await {
            Ok(location) => location,
            Err(e) => panic!(
                "login at the IdP failed: {e}\nIdP stderr:\n{}",
                self.stderr()
            ),
        }
    }

    /// [`OidcIdp::login`] returning why it failed instead of panicking.
    ///
    /// It acts as a browser at the IdP only: a fresh cookie jar, the IdP's own redirects
    /// followed, the login form posted once, a consent form confirmed. The first redirect whose
    /// origin is not the issuer's is the answer.
    pub async fn try_login(
        &self,
        authorize_url: &str,
        username: &str,
        password: &str,
    ) -> Result<String, LoginError> {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .timeout(Duration::from_secs(30))
            .build()?;
        let issuer = Url::parse(&self.issuer).expect("issuer is a URL").origin();
        let mut url = Url::parse(authorize_url).expect("authorize_url is a URL");
        let mut form: Option<Vec<(&str, &str)>> = None;
        let mut posted_login = false;
        for _ in 0..MAX_LOGIN_STEPS {
            let request = match form.take() {
                Some(fields) => http.post(url.clone()).form(&fields),
                None => http.get(url.clone()),
            };
            let response = request.send().await?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                let target = url.join(location).map_err(|_| LoginError::Idp {
                    status,
                    body: format!("bad Location {location:?}"),
                })?;
                if target.origin() != issuer {
                    return Ok(target.into());
                }
                url = target;
                continue;
            }
            let body = response.text().await?;
            if !status.is_success() {
                return Err(LoginError::Idp { status, body });
            }
            if let Some(alert) = between(&body, "role=\"alert\">", "</p>") {
                return Err(LoginError::Rejected(alert.to_owned()));
            }
            if let Some(action) = form_action(&body, "login").filter(|_| !posted_login) {
                url = url.join(action).expect("form action is a path");
                form = Some(vec![("username", username), ("password", password)]);
                posted_login = true;
            } else if let Some(action) = form_action(&body, "consent") {
                url = url.join(action).expect("form action is a path");
                form = Some(Vec::new());
            } else {
                return Err(LoginError::Idp { status, body });
            }
        }
        Err(LoginError::TooManySteps)
    }
}

impl Drop for OidcIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server's `--config` document.
fn config_json(
    port: u16,
    clients: &[OidcClient],
    users: &[OidcUser],
    options: &IdpOptions,
) -> Value {
    let clients: Vec<Value> = clients
        .iter()
        .map(|c| {
            json!({
                "client_id": c.client_id,
                "client_secret": c.client_secret,
                "redirect_uris": c.redirect_uris,
                "token_endpoint_auth_method": match c.auth {
                    ClientAuth::Basic => "client_secret_basic",
                    ClientAuth::Post => "client_secret_post",
                },
            })
        })
        .collect();
    let users: Vec<Value> = users
        .iter()
        .map(|u| {
            json!({
                "sub": u.sub, "password": u.password, "email": u.email,
                "email_verified": u.email_verified, "name": u.name,
            })
        })
        .collect();
    let mut doc = json!({
        "port": port,
        "issuer": format!("http://127.0.0.1:{port}"),
        "clients": clients,
        "users": users,
        "ttl": options
            .ttl
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect::<serde_json::Map<String, Value>>(),
        "consent": if options.confirm_consent { "confirm" } else { "auto" },
    });
    match &options.response_iss {
        ResponseIss::Issuer => {}
        ResponseIss::Omit => doc["response_iss"] = json!("omit"),
        ResponseIss::Replace(iss) => doc["response_iss"] = json!(iss),
    }
    doc
}

/// Reads stdout on a thread; sends the issuer from the `READY <issuer>` line, then keeps draining.
fn wait_ready(stdout: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(issuer) = line.strip_prefix("READY ") {
                let _ = tx.send(issuer.trim().to_owned());
            }
        }
    });
    rx
}

/// Collects a pipe's text on a thread.
fn drain(pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut s = sink.lock().expect("stderr lock");
            s.push_str(&line);
            s.push('\n');
        }
    });
    text
}

/// The text between the first `start` and the next `end`.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

/// The `action` of the IdP page's `<form … data-form="{kind}">` (see tests/idp/oidc/pages.mjs).
fn form_action<'a>(html: &'a str, kind: &str) -> Option<&'a str> {
    let marker = html.find(&format!("data-form=\"{kind}\""))?;
    let tag = &html[html[..marker].rfind("<form")?..marker];
    between(tag, "action=\"", "\"")
}

#[cfg(test)]
mod tests;
