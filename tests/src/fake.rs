//! Servers that misbehave on purpose: what a real registry will not do (wrong digests,
//! oversized or broken bodies, 429s, 500s, silence, redirects, 403 to expired tokens).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::Response;

use crate::bind_loopback;

/// One request a fake server saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
}

/// An in-process HTTP server running a test's own router, recording every request.
#[derive(Debug, Clone)]
pub struct FakeServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeServer {
    pub async fn start(router: Router) -> FakeServer {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorder = Arc::clone(&seen);
        let app = router.layer(middleware::from_fn(move |request: Request, next: Next| {
            let recorder = Arc::clone(&recorder);
            async move {
                recorder.lock().expect("seen lock").push(Seen {
                    method: request.method().to_string(),
                    path: request.uri().path().to_owned(),
                    authorization: request
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                });
                let response: Response = next.run(request).await;
                response
            }
        }));
        let (listener, addr) = bind_loopback().await;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeServer { addr, seen }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen lock").clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().expect("seen lock").len()
    }
}

/// A registry that answers every request with a Bearer challenge naming `realm` (service
/// `x`): for tests of what happens at, or instead of, the token server.
pub fn challenging(realm: String) -> Router {
    Router::new().fallback(move || {
        let challenge = format!("Bearer realm=\"{realm}\",service=\"x\"");
        async move {
            (
                axum::http::StatusCode::UNAUTHORIZED,
                [("www-authenticate", challenge)],
            )
        }
    })
}

/// A manifest answered as a registry answers it: `media_type`, the body's digest in
/// `Docker-Content-Digest`, and the body itself unless the request is a HEAD.
pub fn manifest(method: &Method, media_type: &str, body: &[u8]) -> Response {
    let digest = registry::Digest::sha256(body).to_string();
    let body = if method == Method::HEAD {
        Vec::new()
    } else {
        body.to_vec()
    };
    Response::builder()
        .header("content-type", media_type)
        .header("docker-content-digest", digest)
        .body(Body::from(body))
        .unwrap_or_default()
}

/// Requests a fake server is answering at once, and the most seen: for the tests of the
/// concurrency caps. Clones count together.
#[derive(Debug, Clone, Default)]
pub struct InFlight {
    now: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

impl InFlight {
    /// Counts one request in flight for `hold`, as a slow registry would keep it.
    pub async fn hold(&self, hold: Duration) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(hold).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
    }

    /// The most requests in flight at once so far.
    pub fn most(&self) -> usize {
        self.most.load(Ordering::SeqCst)
    }
}

/// A server that accepts connections and never answers. Holds them until dropped.
#[derive(Debug)]
pub struct Silent {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Silent {
    pub async fn start() -> Silent {
        let (listener, addr) = bind_loopback().await;
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        Silent { addr, task }
    }

    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.task.abort();
    }
}
