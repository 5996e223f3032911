# The service's image: one binary that runs `serve`, `worker` or `migrate`.
#
#   docker build -t todo-backend .
#   docker run --rm -p 8080:8080 todo-backend            # serve, on in-memory adapters
#   docker run --rm todo-backend migrate                  # with DATABASE_URL set
#
# Four stages. `chef` is the Rust toolchain with cargo-chef. `planner` reduces the workspace
# to a recipe: the manifests and the lock file, no code. `builder` builds the dependencies
# from that recipe first, in a layer of their own, so a code change rebuilds only the
# workspace's own crates; then it builds the binary. `runtime` is distroless: the C runtime,
# CA certificates and a `nonroot` user, no shell and no package manager.

FROM rust:1.95-slim-bookworm AS chef
# Pinned, and built from the registry with its own lock file.
RUN cargo install cargo-chef --version 0.1.78 --locked \
    && rm -rf "$CARGO_HOME/registry"
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
# The dependencies of the binary alone: no dev-dependencies, no fuzz or bench crates.
RUN cargo chef cook --release --locked --package backend --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --package backend \
    && cp target/release/backend /usr/local/bin/backend

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=builder /usr/local/bin/backend /usr/local/bin/backend
# The distroless `nonroot` user (65532), by number so that Kubernetes can check
# `runAsNonRoot` without reading /etc/passwd.
USER 65532:65532
# Listen on every interface inside the container; compose and Kubernetes publish the port.
# The gRPC service shares this port (one listener for all three protocols).
ENV HTTP_ADDR=0.0.0.0:8080 \
    WORKER_HTTP_ADDR=0.0.0.0:9090 \
    LOG_FORMAT=json
# 8080: the API (`serve`); 9090: the worker's /healthz, /readyz and /metrics (`worker`).
EXPOSE 8080 9090
# The binary is PID 1: it handles SIGTERM itself (drains, then exits 0), so no init wrapper
# is needed. There is no shell in this image: orchestrators probe /healthz and /readyz.
ENTRYPOINT ["/usr/local/bin/backend"]
CMD ["serve"]
