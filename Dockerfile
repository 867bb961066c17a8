# The `docker run mquery IMAGE` experience: the mquery CLI alone in a minimal image.
#   docker build -t mquery .
#   docker run --rm mquery alpine
# Multi-platform: docker buildx build --platform linux/amd64,linux/arm64 -t you/mquery --push .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin mquery

# glibc and CA certificates (rustls verifies against the system store), no shell
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/mquery /usr/local/bin/mquery
ENTRYPOINT ["/usr/local/bin/mquery"]
