//! `tenantgate platform jwks | token`: a local platform issuer, for the demo and for
//! development, where no company IdP issues platform tokens.
//!
//! The key is an Ed25519 key kept in a file (32 random bytes, hex; created on first use,
//! mode 0600). `jwks` prints the issuer entry to put in the gateway's `jwt_issuers`
//! variable (the public key, with `platform_roles_claim`); `token` prints a signed
//! platform-admin token (`platform_roles: ["platform_admin"]`) to paste into the console's
//! sign-in at `/platform` or to send as `Authorization: Bearer`. In production the
//! platform's own identity provider issues these tokens instead, and its entry in
//! `jwt_issuers` carries `platform_roles_claim` (README "Platform administration").

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use clap::{Args, Subcommand};
use ed25519_dalek::{Signer as _, SigningKey};

/// The demo issuer's `iss`.
pub const DEMO_ISSUER: &str = "https://platform.tenantgate.localhost";
const KID: &str = "platform-1";

#[derive(Subcommand)]
pub enum PlatformCommand {
    /// Print the `jwt_issuers` entry (JSON) of the local platform issuer.
    Jwks(KeyArgs),
    /// Print a platform-admin token signed by the local platform issuer.
    Token(TokenArgs),
}

#[derive(Args)]
pub struct KeyArgs {
    /// The issuer's key file (created when missing).
    #[arg(long, default_value = ".tenantgate/platform.key")]
    key: PathBuf,
    /// The issuer (`iss`).
    #[arg(long, default_value = DEMO_ISSUER)]
    issuer: String,
    /// The audience (`aud`).
    #[arg(long, default_value = "tenantgate")]
    audience: String,
}

#[derive(Args)]
pub struct TokenArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// The admin (`sub`).
    #[arg(long, default_value = "ops")]
    subject: String,
    /// The admin's email (shown in audit logs), default `<subject>@platform.localhost`.
    #[arg(long)]
    email: Option<String>,
    /// Minutes the token is valid.
    #[arg(long, default_value_t = 480, value_parser = clap::value_parser!(u64).range(1..=10_080))]
    minutes: u64,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The key in `path`, created (random, mode 0600) when the file does not exist.
fn key(path: &Path) -> anyhow::Result<SigningKey> {
    if !path.exists() {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
        options
            .open(path)
            .and_then(|mut f| f.write_all(hex.as_bytes()))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let text = text.trim();
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<_>>()
        .filter(|b: &Vec<u8>| b.len() == 32)
        .with_context(|| format!("{}: not 64 hex digits", path.display()))?;
    let seed: [u8; 32] = bytes.try_into().expect("checked length");
    Ok(SigningKey::from_bytes(&seed))
}

/// The `jwt_issuers` entry for the key.
fn issuer_entry(args: &KeyArgs) -> anyhow::Result<serde_json::Value> {
    let public = key(&args.key)?.verifying_key();
    Ok(serde_json::json!({
        "issuer": args.issuer,
        "audiences": [args.audience],
        "jwks": { "keys": [{
            "kty": "OKP", "crv": "Ed25519", "x": b64(public.as_bytes()),
            "kid": KID, "alg": "EdDSA", "use": "sig",
        }]},
        "platform_roles_claim": "platform_roles",
    }))
}

/// A signed platform-admin token.
fn token(args: &TokenArgs, now: u64) -> anyhow::Result<String> {
    let signing = key(&args.key.key)?;
    let header = serde_json::json!({ "alg": "EdDSA", "typ": "JWT", "kid": KID });
    let email = args
        .email
        .clone()
        .unwrap_or_else(|| format!("{}@platform.localhost", args.subject));
    let claims = serde_json::json!({
        "iss": args.key.issuer, "aud": args.key.audience, "sub": args.subject, "email": email,
        "iat": now, "nbf": now.saturating_sub(5), "exp": now + args.minutes * 60,
        "platform_roles": ["platform_admin"],
    });
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = signing.sign(input.as_bytes());
    Ok(format!("{input}.{}", b64(&signature.to_bytes())))
}

pub fn run(cmd: PlatformCommand) -> anyhow::Result<std::process::ExitCode> {
    match cmd {
        PlatformCommand::Jwks(args) => println!("{}", issuer_entry(&args)?),
        PlatformCommand::Token(args) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .context("the clock is before 1970")?
                .as_secs();
            println!("{}", token(&args, now)?);
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier as _};

    #[test]
    fn the_token_verifies_with_the_printed_key_and_names_a_platform_admin() {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyArgs {
            key: dir.path().join("k/platform.key"),
            issuer: DEMO_ISSUER.into(),
            audience: "tenantgate".into(),
        };
        let entry = issuer_entry(&key).unwrap();
        let args = TokenArgs {
            key,
            subject: "ops".into(),
            email: None,
            minutes: 10,
        };
        let t = token(&args, 1_700_000_000).unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        let dec = |s: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .unwrap()
        };
        let x = entry["jwks"]["keys"][0]["x"].as_str().unwrap();
        let public = ed25519_dalek::VerifyingKey::from_bytes(&dec(x).try_into().unwrap()).unwrap();
        let sig = Signature::from_bytes(&dec(parts[2]).try_into().unwrap());
        public
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&dec(parts[1])).unwrap();
        assert_eq!(claims["platform_roles"][0], "platform_admin");
        assert_eq!(claims["exp"], 1_700_000_600);
        // The same file gives the same key; a corrupt file is an error, not a new key.
        assert_eq!(issuer_entry(&args.key).unwrap(), entry);
        std::fs::write(&args.key.key, "zz").unwrap();
        assert!(issuer_entry(&args.key).is_err());
    }
}
