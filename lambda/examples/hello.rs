//! A hello-world `lambda_http` function, the yardstick for `mquery-lambda`'s Lambda init
//! time in scripts/bench.sh: the same lambda_http version and features, the same profile,
//! nothing else. `cargo build --release -p mquery-lambda --example hello`.

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_request: Request| async {
        Response::builder()
            .status(200)
            .header("content-type", "text/plain")
            .body(Body::from("hello"))
            .map_err(Error::from)
    }))
    .await
}
