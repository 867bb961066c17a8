# The mquery CLI alone in an empty image: `docker run --rm IMAGE alpine`.
#
# The binaries are static (musl) and built outside the image by scripts/build-image.sh, which
# puts them at dist/amd64/mquery and dist/arm64/mquery and builds this file once per platform:
#   scripts/build-image.sh                       # localhost/mquery:latest, linux/amd64 + linux/arm64
#   scripts/build-image.sh --push you/mquery:1   # and pushes the index and both images
# After the script made dist/, any builder that sets TARGETARCH from --platform works too:
#   docker buildx build --platform linux/amd64,linux/arm64 -t you/mquery --push .
#   podman build --platform linux/arm64 -t mquery:arm64 .
FROM scratch
ARG TARGETARCH
ARG VERSION=unknown
ARG REVISION=unknown
COPY dist/${TARGETARCH}/mquery /mquery
# no /etc/passwd in an empty image: a numeric non-root user
USER 65532:65532
ENTRYPOINT ["/mquery"]
LABEL org.opencontainers.image.title="mquery" \
      org.opencontainers.image.description="Is a container image multi-platform, and which platforms does it support?" \
      org.opencontainers.image.source="https://github.com/mquery-rs/mquery" \
      org.opencontainers.image.url="https://github.com/mquery-rs/mquery" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
