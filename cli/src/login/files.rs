//! The two credential file formats, parsed without touching the disk: docker's
//! `config.json` (docker/cli `cli/config/configfile/file.go`: `auths`, `credsStore`,
//! `credHelpers`) and the containers `auth.json` (containers/image
//! `pkg/docker/config/config.go`: `auths` and `credHelpers`, the same shapes).
//!
//! A registry's entry is found by its host: docker's key for Docker Hub is its historical
//! index URL `https://index.docker.io/v1/` (docker/cli `getAuthConfigKey`), other keys are
//! `host[:port]`; keys written as URLs are reduced to their host (docker/cli
//! `cli/config/credentials/file_store.go`, `ConvertToHostname`), and `docker.io`,
//! `index.docker.io` and `registry-1.docker.io` are one registry (containers/image
//! `normalizeRegistry`). Exact keys win over reduced ones. Repository-namespaced keys of
//! auth.json (`quay.io/org`) are not matched: such an entry is ignored.

use base64::Engine as _;
use registry::credentials::{Login, Secret};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The largest credentials file read.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Docker Hub's key in docker's files (docker/cli `configfile/file.go`, `authConfigKey`).
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// Which tool's file: docker's honours `credsStore` and asks helpers with docker's key;
/// the containers one does neither (containers/image reads no `credsStore`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Docker,
    Containers,
}

/// Where one file sends a registry's lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Login(Login),
    /// Ask `docker-credential-NAME get` for `server_url`.
    Helper {
        name: String,
        server_url: String,
    },
    Nothing,
}

/// One parsed credentials file.
#[derive(Debug, Default)]
pub struct AuthFile {
    kind: Option<Kind>,
    /// By key; `None` for an entry without a login (docker writes `{}` when a helper holds it).
    auths: Vec<(String, Option<Login>)>,
    cred_helpers: Vec<(String, String)>,
    creds_store: Option<String>,
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    auths: BTreeMap<String, RawAuth>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

/// No `Debug`: it holds secrets until they are wrapped.
#[derive(Deserialize)]
struct RawAuth {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

impl AuthFile {
    /// Parses a file's bytes; entries that cannot be used are dropped with a warning (which
    /// names the key, never the value). The error repeats nothing of the file but where it
    /// broke.
    pub fn parse(bytes: &[u8], kind: Kind) -> Result<(AuthFile, Vec<String>), String> {
        let raw: RawFile = serde_json::from_slice(bytes).map_err(|e| {
            format!(
                "not a credentials file (JSON error at line {}, column {})",
                e.line(),
                e.column()
            )
        })?;
        let mut warnings = Vec::new();
        let auths = raw
            .auths
            .into_iter()
            .map(|(key, entry)| {
                let login = login_of(entry).unwrap_or_else(|problem| {
                    warnings.push(format!("the entry for {key:?} is ignored: {problem}"));
                    None
                });
                (key, login)
            })
            .collect();
        Ok((
            AuthFile {
                kind: Some(kind),
                auths,
                cred_helpers: raw.cred_helpers.into_iter().collect(),
                creds_store: raw.creds_store.filter(|s| !s.trim().is_empty()),
            },
            warnings,
        ))
    }

    /// Where `registry` (a reference's domain) is sent by this file: its `credHelpers`
    /// entry, else (docker's file) its `credsStore`, else its `auths` entry (docker/cli
    /// `configfile/file.go`, `GetCredentialsStore`; containers/image
    /// `findCredentialsInFile`).
    pub fn find(&self, registry: &str) -> Found {
        let docker = self.kind == Some(Kind::Docker);
        let key = docker_key(registry);
        let server_url = if docker {
            key.clone()
        } else {
            registry.to_owned()
        };
        let exact = [key.as_str(), registry];
        if let Some(name) = pick(&self.cred_helpers, &exact, registry) {
            return Found::Helper {
                name: name.clone(),
                server_url,
            };
        }
        if let Some(name) = self.creds_store.as_ref().filter(|_| docker) {
            return Found::Helper {
                name: name.clone(),
                server_url,
            };
        }
        match pick(&self.auths, &exact, registry) {
            Some(Some(login)) => Found::Login(login.clone()),
            _ => Found::Nothing,
        }
    }
}

/// An `auths` entry's login: `identitytoken` first (the daemon prefers it), else `auth`
/// (base64 of `user:password`, docker/cli `decodeAuth`), else `username` and `password`.
fn login_of(entry: RawAuth) -> Result<Option<Login>, &'static str> {
    let present = |s: Option<String>| s.filter(|s| !s.is_empty());
    if let Some(token) = present(entry.identitytoken) {
        return Ok(Some(Login::IdentityToken(Secret::new(token))));
    }
    let (username, password) = match present(entry.auth) {
        Some(auth) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| "its auth is not base64")?;
            let decoded = String::from_utf8(decoded).map_err(|_| "its auth is not UTF-8")?;
            let (user, password) = decoded
                .split_once(':')
                .ok_or("its auth is not user:password")?;
            (user.to_owned(), password.trim_matches('\0').to_owned())
        }
        None => (
            present(entry.username).unwrap_or_default(),
            present(entry.password).unwrap_or_default(),
        ),
    };
    if username.is_empty() {
        return if password.is_empty() {
            Ok(None)
        } else {
            Err("it has a password but no username")
        };
    }
    Ok(Some(Login::Basic {
        username,
        password: Secret::new(password),
    }))
}

/// docker's key for a registry (docker/cli `getAuthConfigKey`).
pub fn docker_key(registry: &str) -> String {
    match normalize(registry) {
        "docker.io" => DOCKER_HUB_KEY.to_owned(),
        _ => registry.to_owned(),
    }
}

fn normalize(host: &str) -> &str {
    match host {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "docker.io",
        host => host,
    }
}

/// The registry a key names: a URL's `host[:port]`, a bare `host[:port]`; `None` for a
/// namespaced key (`quay.io/org`).
fn key_host(key: &str) -> Option<String> {
    let key = key.trim();
    let host = match key.split_once("://") {
        Some((_, rest)) => rest.split('/').next().unwrap_or_default(),
        None if key.contains('/') => return None,
        None => key,
    };
    Some(normalize(&host.to_ascii_lowercase()).to_owned())
}

/// The value of an exact key, else of the first key naming the same registry.
fn pick<'a, T>(entries: &'a [(String, T)], exact: &[&str], registry: &str) -> Option<&'a T> {
    let want = normalize(registry);
    entries
        .iter()
        .find(|(key, _)| exact.contains(&key.as_str()))
        .or_else(|| {
            entries
                .iter()
                .find(|(key, _)| key_host(key).as_deref() == Some(want))
        })
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(username: &str, password: &str) -> Found {
        Found::Login(Login::Basic {
            username: username.into(),
            password: Secret::new(password),
        })
    }

    #[test]
    fn every_form_of_docker_config() {
        // "auth" is base64("alice:s3cret:x"): the password is all after the first colon
        let file = br#"{
            "auths": {
                "https://index.docker.io/v1/": {"auth": "YWxpY2U6czNjcmV0Ong="},
                "reg.example:5000": {"username": "bob", "password": "pw"},
                "https://legacy.example/v1/": {"auth": "Y2Fyb2w6bGVnYWN5"},
                "oauth.example": {"auth": "", "identitytoken": "refresh-me"},
                "helped.example": {},
                "broken.example": {"auth": "!!!"},
                "quay.io/org": {"auth": "ZGF2ZTpucw=="}
            },
            "credsStore": "desktop",
            "credHelpers": {"123.dkr.ecr.us-east-1.amazonaws.com": "ecr-login"},
            "psFormat": "ignored"
        }"#;
        let (file, warnings) = AuthFile::parse(file, Kind::Docker).expect("parses");
        assert_eq!(
            warnings,
            ["the entry for \"broken.example\" is ignored: its auth is not base64"]
        );
        // credHelpers win, then credsStore (with docker's key), before any auths entry
        assert_eq!(
            file.find("123.dkr.ecr.us-east-1.amazonaws.com"),
            Found::Helper {
                name: "ecr-login".into(),
                server_url: "123.dkr.ecr.us-east-1.amazonaws.com".into()
            }
        );
        assert_eq!(
            file.find("docker.io"),
            Found::Helper {
                name: "desktop".into(),
                server_url: DOCKER_HUB_KEY.into()
            }
        );
        let file = AuthFile {
            creds_store: None,
            ..file
        };
        assert_eq!(file.find("docker.io"), basic("alice", "s3cret:x"));
        assert_eq!(file.find("reg.example:5000"), basic("bob", "pw"));
        assert_eq!(file.find("legacy.example"), basic("carol", "legacy"));
        assert_eq!(
            file.find("oauth.example"),
            Found::Login(Login::IdentityToken(Secret::new("refresh-me")))
        );
        for nothing in ["helped.example", "broken.example", "quay.io", "reg.example"] {
            assert_eq!(file.find(nothing), Found::Nothing, "{nothing}");
        }
    }

    #[test]
    fn containers_auth_file() {
        let file = br#"{"auths": {"docker.io": {"auth": "dTpw"}},
                        "credsStore": "ignored-here",
                        "credHelpers": {"ghcr.io": "gh"}}"#;
        let (file, warnings) = AuthFile::parse(file, Kind::Containers).expect("parses");
        assert!(warnings.is_empty());
        assert_eq!(file.find("docker.io"), basic("u", "p"));
        assert_eq!(
            file.find("ghcr.io"),
            Found::Helper {
                name: "gh".into(),
                server_url: "ghcr.io".into()
            }
        );
    }

    #[test]
    fn errors_repeat_nothing_of_the_file() {
        for bad in [
            &br#"{"auths": "c2VjcmV0LXZhbHVl"}"#[..],
            br#"{"auths": {"h": {"auth": 123456789}}}"#,
            b"secret-value",
        ] {
            let err = AuthFile::parse(bad, Kind::Docker).expect_err("not a file");
            assert!(
                err.starts_with("not a credentials file (JSON error at line 1"),
                "{err}"
            );
            assert!(
                !err.contains("c2VjcmV0") && !err.contains("123456789"),
                "{err}"
            );
            assert!(!err.contains("secret-value"), "{err}");
        }
        let (file, warnings) =
            AuthFile::parse(br#"{"auths": {"h": {"password": "only"}}}"#, Kind::Docker)
                .expect("parses");
        assert_eq!(file.find("h"), Found::Nothing);
        assert!(!warnings.concat().contains("only"), "{warnings:?}");
    }
}
