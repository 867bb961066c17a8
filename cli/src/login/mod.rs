//! The user's own registry logins, read the way docker, podman and skopeo read them
//! (README "Command line", SECURITY.md "Credentials"). Only `mquery` asking registries
//! directly reads them; the service never does.
//!
//! Which files, in which order (containers/image `pkg/docker/config/config.go`,
//! `getAuthFilePaths`, the one tool that reads both families):
//! - `--authfile FILE`, else `REGISTRY_AUTH_FILE`: that file alone (podman's `--authfile`);
//! - otherwise `$XDG_RUNTIME_DIR/containers/auth.json`, then
//!   `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`, then docker's
//!   `${DOCKER_CONFIG:-~/.docker}/config.json`.
//!
//! The first file that names the registry (a `credHelpers` entry, docker's `credsStore`, an
//! `auths` entry: [`files`]) gives its login; a helper that holds none passes on to the next
//! file. A file named explicitly must be there and valid; a default file that is missing is
//! skipped, one that is broken or over [`files::MAX_FILE_BYTES`] is skipped with a warning,
//! as docker does (docker/cli `cli/config/config.go`, `LoadDefaultConfigFile`). A helper that
//! fails, hangs or prints garbage fails that registry's lookups with an error naming it, as
//! `docker pull` (docker/cli `cli/command/registry.go`, `RetrieveAuthTokenFromImage`) and
//! podman (containers/image `getCredentialsWithHomeDir`) fail.

mod files;
mod helper;

use std::path::{Path, PathBuf};

use registry::credentials::{Login, LoginError, LoginSource};

use files::{AuthFile, Found, Kind, MAX_FILE_BYTES};

/// The files read, in order.
#[derive(Debug, Default)]
pub struct UserLogins {
    files: Vec<(PathBuf, AuthFile)>,
}

impl LoginSource for UserLogins {
    fn login(&self, registry: &str) -> Result<Option<Login>, LoginError> {
        for (path, file) in &self.files {
            match file.find(registry) {
                Found::Login(login) => {
                    tracing::debug!(registry, file = %path.display(), "login from the file");
                    return Ok(Some(login));
                }
                Found::Helper { name, server_url } => {
                    tracing::debug!(registry, helper = %name, "asking the credential helper");
                    if let Some(login) = helper::get(&name, &server_url)? {
                        return Ok(Some(login));
                    }
                }
                Found::Nothing => {}
            }
        }
        Ok(None)
    }
}

impl UserLogins {
    /// Reads the files `--authfile` (`authfile`) and the environment (`env`) name. Warnings
    /// (skipped files and entries) are for stderr; an error is a file named explicitly that
    /// cannot be read.
    pub fn read(
        authfile: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(UserLogins, Vec<String>), String> {
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let explicit = authfile
            .map(Path::to_path_buf)
            .or_else(|| var("REGISTRY_AUTH_FILE").map(PathBuf::from));
        let mut logins = UserLogins::default();
        let mut warnings = Vec::new();
        if let Some(path) = explicit {
            let file = read_file(&path, Kind::Containers)
                .and_then(|file| file.ok_or_else(|| "no such file".to_owned()))
                .map_err(|e| format!("credentials file {}: {e}", path.display()))?;
            warnings.extend(file.1.iter().map(|w| format!("{}: {w}", path.display())));
            logins.files.push((path, file.0));
            return Ok((logins, warnings));
        }
        let home = var("HOME").map(PathBuf::from);
        let mut paths = Vec::new();
        if let Some(runtime) = var("XDG_RUNTIME_DIR") {
            paths.push((
                Path::new(&runtime).join("containers/auth.json"),
                Kind::Containers,
            ));
        }
        if let Some(config) = var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".config")))
        {
            paths.push((config.join("containers/auth.json"), Kind::Containers));
        }
        if let Some(docker) = var("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".docker")))
        {
            paths.push((docker.join("config.json"), Kind::Docker));
        }
        for (path, kind) in paths {
            match read_file(&path, kind) {
                Ok(Some((file, file_warnings))) => {
                    warnings.extend(
                        file_warnings
                            .iter()
                            .map(|w| format!("{}: {w}", path.display())),
                    );
                    logins.files.push((path, file));
                }
                Ok(None) => {}
                Err(e) => warnings.push(format!("ignoring {}: {e}", path.display())),
            }
        }
        Ok((logins, warnings))
    }
}

/// A credentials file; `None` when there is none at `path`.
fn read_file(path: &Path, kind: Kind) -> Result<Option<(AuthFile, Vec<String>)>, String> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot be read: {e}")),
    };
    let bytes = crate::read_at_most(file, MAX_FILE_BYTES)
        .map_err(|e| format!("cannot be read: {e}"))?
        .ok_or_else(|| format!("larger than {} MiB", MAX_FILE_BYTES >> 20))?;
    AuthFile::parse(&bytes, kind).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, path: &str, content: &str) {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }

    #[test]
    fn files_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        // base64("podman:p1"), base64("docker:d1"), base64("xdg:x1")
        write(
            root,
            "run/containers/auth.json",
            r#"{"auths":{"a.io":{"auth":"cG9kbWFuOnAx"}}}"#,
        );
        write(
            root,
            "home/.config/containers/auth.json",
            r#"{"auths":{"c.io":{"auth":"eGRnOngx"}}}"#,
        );
        write(
            root,
            "home/.docker/config.json",
            r#"{"auths":{"a.io":{"auth":"ZG9ja2VyOmQx"},"b.io":{"auth":"ZG9ja2VyOmQx"}}}"#,
        );
        write(root, "other/config.json", "{not json");
        let env = |extra: &'static [(&'static str, &'static str)]| {
            let root = root.to_path_buf();
            move |name: &str| match name {
                "HOME" => Some(root.join("home").display().to_string()),
                "XDG_RUNTIME_DIR" => Some(root.join("run").display().to_string()),
                _ => extra
                    .iter()
                    .find(|(var, _)| *var == name)
                    .map(|(_, value)| root.join(value).display().to_string()),
            }
        };
        let user = |login: &Option<Login>| match login {
            Some(Login::Basic { username, .. }) => username.clone(),
            other => format!("{other:?}"),
        };
        let (logins, warnings) = UserLogins::read(None, env(&[])).expect("read");
        assert!(warnings.is_empty(), "{warnings:?}");
        let found = |logins: &UserLogins, registry| user(&logins.login(registry).expect("login"));
        assert_eq!(found(&logins, "a.io"), "podman");
        assert_eq!(found(&logins, "b.io"), "docker");
        assert_eq!(found(&logins, "c.io"), "xdg");
        assert_eq!(found(&logins, "d.io"), "None");

        // a broken default file is skipped with a warning naming it
        let (logins, warnings) =
            UserLogins::read(None, env(&[("DOCKER_CONFIG", "other")])).expect("read");
        assert_eq!(found(&logins, "b.io"), "None");
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].starts_with("ignoring ")
                && warnings[0].contains("other/config.json: not a credentials file"),
            "{warnings:?}"
        );

        // --authfile, else REGISTRY_AUTH_FILE: that file alone, and it must be there
        let docker = root.join("home/.docker/config.json");
        let (logins, _) = UserLogins::read(Some(&docker), env(&[])).expect("read");
        assert_eq!(found(&logins, "a.io"), "docker");
        assert_eq!(found(&logins, "c.io"), "None");
        let (logins, _) = UserLogins::read(
            None,
            env(&[("REGISTRY_AUTH_FILE", "home/.docker/config.json")]),
        )
        .expect("read");
        assert_eq!(found(&logins, "a.io"), "docker");
        let err = UserLogins::read(Some(&root.join("absent.json")), env(&[])).expect_err("missing");
        assert!(err.ends_with("absent.json: no such file"), "{err}");
        let err =
            UserLogins::read(Some(&root.join("other/config.json")), env(&[])).expect_err("broken");
        assert!(err.contains("not a credentials file"), "{err}");
        write(root, "big.json", &" ".repeat((MAX_FILE_BYTES + 1) as usize));
        let err = UserLogins::read(Some(&root.join("big.json")), env(&[])).expect_err("too big");
        assert!(err.ends_with("larger than 1 MiB"), "{err}");
    }
}
