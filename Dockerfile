# One image with all five binaries; compose.yaml picks the one each service runs.
# Build stage: the workspace, release profile, nothing else.
FROM rust:1-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends pkg-config make cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bins -p signal -p focus -p bridge -p filestore -p web \
    && mkdir /out \
    && cp target/release/signal target/release/focus target/release/bridge \
          target/release/filestore target/release/web /out/

# Run stage: slim Debian, a non-root user, curl for the healthchecks, iproute2 for the
# bridge's address detection log.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin meet \
    && mkdir /data && chown meet:meet /data
COPY --from=build /out/ /usr/local/bin/
USER meet
WORKDIR /data
ENV DATA_DIR=/data RUST_LOG=info
