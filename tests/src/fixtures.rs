//! Pushes fixture images over the registry HTTP API (monolithic blob uploads, manifest PUTs),
//! as any client would.

use registry::Digest;
use registry::manifest::media_type;
use serde_json::{Value, json};

use crate::distribution::{Distribution, Served};
use crate::token::TokenServer;

/// A pushed manifest: what an index entry needs to point at it.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

impl Pushed {
    /// An index entry for this manifest with the given platform object (or none).
    pub fn entry(&self, platform: Option<Value>) -> Value {
        let mut entry = json!({
            "mediaType": self.media_type,
            "digest": self.digest.as_str(),
            "size": self.size,
        });
        if let Some(platform) = platform {
            entry["platform"] = platform;
        }
        entry
    }
}

/// Whether an image manifest is written in Docker's or OCI's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Docker,
    Oci,
}

/// Pushes to one registry, with push tokens when it uses token auth.
#[derive(Debug, Clone)]
pub struct Pusher {
    http: reqwest::Client,
    base: String,
    token: Option<TokenServer>,
    /// Basic credentials, for a registry with `auth: htpasswd`.
    login: Option<(String, String)>,
}

impl Pusher {
    pub fn new(base_url: &str, token: Option<&TokenServer>) -> Pusher {
        Pusher {
            http: reqwest::Client::new(),
            base: base_url.trim_end_matches('/').to_owned(),
            token: token.cloned(),
            login: None,
        }
    }

    /// Pushes to an open registry.
    pub fn open(registry: &Distribution) -> Pusher {
        Pusher::new(&registry.base_url(), None)
    }

    /// Pushes to a registry started with [`Distribution::start_tls`], trusting only its test
    /// CA.
    pub fn for_tls(registry: &Distribution) -> Pusher {
        let pem = std::fs::read(registry.ca_file()).expect("read the test CA");
        let ca = reqwest::Certificate::from_pem(&pem).expect("the test CA is PEM");
        Pusher {
            http: reqwest::Client::builder()
                .tls_certs_only([ca])
                .build()
                .expect("a client trusting the test CA"),
            base: registry.base_url(),
            token: None,
            login: None,
        }
    }

    /// [`Pusher::for_tls`] with push tokens of `token` (a registry started with
    /// [`Distribution::start_tls_with_token`]).
    pub fn for_tls_with_token(registry: &Distribution, token: &TokenServer) -> Pusher {
        Pusher {
            token: Some(token.clone()),
            ..Pusher::for_tls(registry)
        }
    }

    /// [`Pusher::for_tls`] sending `username` and `password` (a registry with `auth:
    /// htpasswd`).
    pub fn for_tls_with_login(registry: &Distribution, username: &str, password: &str) -> Pusher {
        Pusher {
            login: Some((username.to_owned(), password.to_owned())),
            ..Pusher::for_tls(registry)
        }
    }

    fn auth(&self, request: reqwest::RequestBuilder, repo: &str) -> reqwest::RequestBuilder {
        match (&self.token, &self.login) {
            (Some(token), _) => request.bearer_auth(token.push_token(repo)),
            (None, Some((username, password))) => request.basic_auth(username, Some(password)),
            (None, None) => request,
        }
    }

    /// Uploads a blob (POST then PUT with the digest) and returns its digest.
    pub async fn blob(&self, repo: &str, bytes: &[u8]) -> Digest {
        let digest = Digest::sha256(bytes);
        let start = self
            .auth(
                self.http
                    .post(format!("{}/v2/{repo}/blobs/uploads/", self.base)),
                repo,
            )
            .send()
            .await
            .expect("start blob upload");
        assert_eq!(
            start.status(),
            202,
            "start upload: {:?}",
            start.text().await
        );
        let location = crate::header(start.headers(), "location")
            .expect("upload location")
            .to_owned();
        let location = if location.starts_with("http") {
            location
        } else {
            format!("{}{location}", self.base)
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let put = self
            .auth(
                self.http
                    .put(format!("{location}{separator}digest={digest}"))
                    .header("content-type", "application/octet-stream")
                    .body(bytes.to_vec()),
                repo,
            )
            .send()
            .await
            .expect("finish blob upload");
        assert_eq!(put.status(), 201, "finish upload: {:?}", put.text().await);
        digest
    }

    /// PUTs a manifest under `reference` (a tag or its digest).
    pub async fn manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> Pushed {
        let response = self
            .auth(
                self.http
                    .put(format!("{}/v2/{repo}/manifests/{reference}", self.base))
                    .header("content-type", media_type)
                    .body(body.to_vec()),
                repo,
            )
            .send()
            .await
            .expect("put manifest");
        let status = response.status();
        assert_eq!(status, 201, "put manifest: {:?}", response.text().await);
        Pushed {
            digest: Digest::sha256(body),
            media_type: media_type.to_owned(),
            size: body.len() as u64,
        }
    }

    /// Pushes a single-platform image: a config declaring `platform` (an object with `os`,
    /// `architecture` and optional `variant`, `os.version`), one small layer and the manifest.
    /// Tagged `tag` when given, otherwise pushed by digest only.
    pub async fn image(
        &self,
        repo: &str,
        tag: Option<&str>,
        format: Format,
        platform: Value,
    ) -> Pushed {
        let mut config = json!({
            "created": "2026-01-01T00:00:00Z",
            "rootfs": {"type": "layers", "diff_ids": []},
            "config": {},
        });
        if let (Some(config), Some(platform)) = (config.as_object_mut(), platform.as_object()) {
            for (k, v) in platform {
                config.insert(k.clone(), v.clone());
            }
        }
        let config_bytes = serde_json::to_vec(&config).expect("json");
        let config_digest = self.blob(repo, &config_bytes).await;
        let layer = format!("layer of {repo} {platform}").into_bytes();
        let layer_digest = self.blob(repo, &layer).await;
        let (manifest_type, config_type, layer_type) = match format {
            Format::Docker => (
                media_type::DOCKER_MANIFEST,
                media_type::DOCKER_CONFIG,
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            ),
            Format::Oci => (
                media_type::OCI_MANIFEST,
                media_type::OCI_CONFIG,
                "application/vnd.oci.image.layer.v1.tar+gzip",
            ),
        };
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": config_type, "digest": config_digest.as_str(), "size": config_bytes.len()},
            "layers": [{"mediaType": layer_type, "digest": layer_digest.as_str(), "size": layer.len()}],
        });
        self.put_json(repo, tag, manifest_type, &manifest).await
    }

    /// Pushes an attestation manifest (in-toto layer), as BuildKit attaches to an index.
    pub async fn attestation(&self, repo: &str) -> Pushed {
        let config = b"{}".to_vec();
        let config_digest = self.blob(repo, &config).await;
        let statement =
            format!("{{\"_type\":\"https://in-toto.io/Statement/v0.1\",\"repo\":\"{repo}\"}}");
        let layer_digest = self.blob(repo, statement.as_bytes()).await;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.as_str(), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": layer_digest.as_str(), "size": statement.len(),
                        "annotations": {"in-toto.io/predicate-type": "https://spdx.dev/Document"}}],
        });
        self.put_json(repo, None, media_type::OCI_MANIFEST, &manifest)
            .await
    }

    /// Pushes an OCI artifact: a manifest whose config is not an image config.
    pub async fn artifact(&self, repo: &str, tag: &str, artifact_type: &str) -> Pushed {
        let config = b"{}".to_vec();
        let config_digest = self.blob(repo, &config).await;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config_digest.as_str(), "size": config.len()},
            "layers": [],
        });
        self.put_json(repo, Some(tag), media_type::OCI_MANIFEST, &manifest)
            .await
    }

    /// Pushes one image per platform of `platforms`, then the index `repo:tag` (or by digest
    /// only) listing them in that order, all in `format`: OCI images in an OCI index, Docker
    /// images in a Docker manifest list. Returns the index and the images.
    pub async fn index_of(
        &self,
        repo: &str,
        tag: Option<&str>,
        format: Format,
        platforms: Vec<Value>,
    ) -> (Pushed, Vec<Pushed>) {
        let media_type = match format {
            Format::Docker => media_type::DOCKER_LIST,
            Format::Oci => media_type::OCI_INDEX,
        };
        let mut children = Vec::new();
        let mut entries = Vec::new();
        for p in platforms {
            let child = self.image(repo, None, format, p.clone()).await;
            entries.push(child.entry(Some(p)));
            children.push(child);
        }
        let index = self.index(repo, tag, media_type, entries).await;
        (index, children)
    }

    /// Pushes one linux/amd64 OCI image and the OCI index `repo:tag` whose entries all name it,
    /// each with one of `platforms`: what an index says need not be what its images are (the
    /// tests of hostile registry strings). Returns the index.
    pub async fn index_naming_one_image(
        &self,
        repo: &str,
        tag: &str,
        platforms: Vec<Value>,
    ) -> Pushed {
        let amd64 = platform("linux", "amd64", None);
        let child = self.image(repo, None, Format::Oci, amd64).await;
        let entries = platforms.into_iter().map(|p| child.entry(Some(p)));
        self.index(repo, Some(tag), media_type::OCI_INDEX, entries.collect())
            .await
    }

    /// Pushes an index (OCI index or Docker manifest list) of `entries`.
    pub async fn index(
        &self,
        repo: &str,
        tag: Option<&str>,
        media_type: &str,
        entries: Vec<Value>,
    ) -> Pushed {
        let index = json!({
            "schemaVersion": 2,
            "mediaType": media_type,
            "manifests": entries,
        });
        self.put_json(repo, tag, media_type, &index).await
    }

    async fn put_json(
        &self,
        repo: &str,
        tag: Option<&str>,
        media_type: &str,
        value: &Value,
    ) -> Pushed {
        let body = serde_json::to_vec(value).expect("json");
        let digest = Digest::sha256(&body);
        self.manifest(repo, tag.unwrap_or(digest.as_str()), media_type, &body)
            .await
    }
}

/// `{"os": os, "architecture": arch}` plus `variant` when given.
pub fn platform(os: &str, architecture: &str, variant: Option<&str>) -> Value {
    let mut p = json!({"os": os, "architecture": architecture});
    if let Some(variant) = variant {
        p["variant"] = json!(variant);
    }
    p
}

/// Pushes the standard five-platform OCI index `repo:tag` and returns it with its children,
/// in index order: linux/amd64, linux/arm64/v8, linux/arm/v7, linux/ppc64le, linux/s390x.
pub async fn five_platform_index(pusher: &Pusher, repo: &str, tag: &str) -> (Pushed, Vec<Pushed>) {
    let platforms = vec![
        platform("linux", "amd64", None),
        platform("linux", "arm64", Some("v8")),
        platform("linux", "arm", Some("v7")),
        platform("linux", "ppc64le", None),
        platform("linux", "s390x", None),
    ];
    pusher
        .index_of(repo, Some(tag), Format::Oci, platforms)
        .await
}

/// The image most tests look up: the five-platform index `acme/app:v1`.
pub const APP: &str = "acme/app:v1";

/// An open registry holding [`APP`] ([`five_platform_index`]): the registry and the index.
pub async fn open_with_app() -> (Distribution, Pushed) {
    let registry = Distribution::start_open();
    let (index, _) = five_platform_index(&Pusher::open(&registry), "acme/app", "v1").await;
    (registry, index)
}

/// An open registry holding [`app_and_pi`]'s images: the registry, the index and the image.
pub async fn open_with_app_and_pi() -> (Distribution, Pushed, Pushed) {
    let registry = Distribution::start_open();
    let (index, single) = app_and_pi(&Pusher::open(&registry)).await;
    (registry, index, single)
}

/// A registry, a pusher for it and a client allowed to reach it: the set-up of the lookup
/// tests against the real registry.
#[derive(Debug)]
pub struct Lookups {
    pub registry: Distribution,
    pub pusher: Pusher,
    pub client: registry::Client,
}

impl Lookups {
    /// An open registry.
    pub fn open() -> Lookups {
        let registry = Distribution::start_open();
        let pusher = Pusher::open(&registry);
        let client = crate::client_for(&[&registry.host()]);
        Lookups {
            registry,
            pusher,
            client,
        }
    }

    /// A registry with `auth: token` from `token`; the client may reach both.
    pub fn with_token(token: &TokenServer) -> Lookups {
        let registry = Distribution::start_with_token(token);
        let pusher = Pusher::new(&registry.base_url(), Some(token));
        let client = crate::client_for(&[&registry.host(), &token.host()]);
        Lookups {
            registry,
            pusher,
            client,
        }
    }

    /// Looks up `rest` (`repo:tag`, `repo@digest`) on the registry.
    pub async fn lookup(&self, rest: &str) -> Result<registry::Summary, registry::Error> {
        let reference = registry::Reference::parse(&self.registry.image(rest));
        let reference = reference.expect("valid reference");
        self.client.summarize(&reference).await
    }

    /// [`Lookups::lookup`], and the requests it cost the registry.
    pub async fn lookup_served(
        &self,
        rest: &str,
    ) -> (Result<registry::Summary, registry::Error>, Vec<Served>) {
        let mark = self.registry.mark();
        let result = self.lookup(rest).await;
        (result, self.registry.served_since(mark))
    }
}

/// The standard fixtures of the CLI and service tests: the five-platform index `acme/app:v1`
/// and the single linux/arm/v6 Docker image `acme/pi:v6`. Returns the index and the image.
pub async fn app_and_pi(pusher: &Pusher) -> (Pushed, Pushed) {
    let (index, _) = five_platform_index(pusher, "acme/app", "v1").await;
    let single = pusher
        .image(
            "acme/pi",
            Some("v6"),
            Format::Docker,
            platform("linux", "arm", Some("v6")),
        )
        .await;
    (index, single)
}

/// The body of a two-platform OCI index (linux/amd64, linux/arm64/v8) whose children are not
/// stored anywhere: what fake registries answer with.
pub fn two_platform_index_body() -> Vec<u8> {
    let entry = |name: &[u8], platform: Value| {
        json!({"mediaType": media_type::OCI_MANIFEST, "digest": Digest::sha256(name).as_str(), "size": 1,
               "platform": platform})
    };
    let index = json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": [
            entry(b"amd64", json!({"os": "linux", "architecture": "amd64"})),
            entry(b"arm64", json!({"os": "linux", "architecture": "arm64", "variant": "v8"})),
        ]
    });
    // a literal of strings and numbers always serializes
    serde_json::to_vec(&index).unwrap_or_default()
}

/// Pushes the two images the stack tests judge against linux/arm64: `acme/db:16` (an OCI
/// index of linux/amd64 and linux/arm64/v8) and `acme/cache:7` (linux/amd64 alone).
pub async fn push_db_and_cache(pusher: &Pusher) {
    let both = vec![
        platform("linux", "amd64", None),
        platform("linux", "arm64", Some("v8")),
    ];
    pusher
        .index_of("acme/db", Some("16"), Format::Oci, both)
        .await;
    let amd64 = vec![platform("linux", "amd64", None)];
    pusher
        .index_of("acme/cache", Some("7"), Format::Oci, amd64)
        .await;
}
