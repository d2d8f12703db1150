# tidegate's container image: the daemon with the git, kustomize and helm it is tested with.
#
#   docker build -t ghcr.io/tidegate/tidegate:0.1.0 .
#
# Three stages: tidegate built with Rust, the renderers built with Go at the versions pinned in
# scripts/testenv and src/render/tools.rs, and a small Debian runtime (git and ssh for
# fetches and write-backs, CA certificates) running as a non-root user. deploy/ references the
# image by this tag.

FROM docker.io/library/rust:1.95-trixie AS tidegate
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY benches benches
RUN cargo build --release --locked && install -D -m 0755 target/release/tidegate /out/tidegate

FROM docker.io/library/golang:1.26-trixie AS renderers
ENV CGO_ENABLED=0 GOFLAGS=-mod=mod GOBIN=/out
RUN go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v3.22.0" \
      helm.sh/helm/v3/cmd/helm@v3.22.0 \
 && go install -trimpath -ldflags "-s -w" sigs.k8s.io/kustomize/kustomize/v5@v5.8.2

FROM docker.io/library/debian:trixie-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git openssh-client \
 && rm -rf /var/lib/apt/lists/*
COPY --from=tidegate /out/tidegate /usr/local/bin/tidegate
COPY --from=renderers /out/helm /out/kustomize /usr/local/bin/
# The same user the manifests in deploy/ run as; HOME is the writable /tmp there.
USER 65532:65532
ENV HOME=/tmp
ENTRYPOINT ["/usr/local/bin/tidegate"]
CMD ["run", "--config", "/etc/tidegate/tidegate.yaml"]
