//! A plain HTTP client for the login tests: redirects are not followed, and every answer
//! keeps its status, `Location`, each `Set-Cookie` and its body.

use serde_json::Value;

/// One answer.
pub struct Answer {
    pub status: u16,
    pub location: String,
    pub cookies: Vec<String>,
    pub body: String,
}

impl Answer {
    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    /// The refusal's error code.
    pub fn code(&self) -> String {
        crate::app::code(&self.json())
    }
    /// The value the first `Set-Cookie` for `name` gives it.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.iter().find_map(|c| {
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (n, v) = pair.split_once('=')?;
            (n == name).then(|| v.to_owned())
        })
    }
}

/// A client that follows no redirects and uses no proxy.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

/// Sends `req` and keeps what the login tests look at.
pub async fn answer(req: reqwest::RequestBuilder) -> Answer {
    let resp = req.send().await.unwrap();
    let all = |n: &str| {
        resp.headers()
            .get_all(n)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    let (location, cookies) = (all("location").join(""), all("set-cookie"));
    Answer {
        status: resp.status().as_u16(),
        location,
        cookies,
        body: resp.text().await.unwrap(),
    }
}
