# One image with all five binaries; compose.yaml picks the one each service runs.
#
# Default (what `docker compose up` / `docker-compose up` builds): the workspace is compiled
# in the official Rust image with the `dist` profile (release code, no debug info), and only
# the five binaries reach the slim runtime stage.
#
# `--build-arg BINARIES=<image>` takes the binaries from another image instead: one whose
# /out/ holds signal, focus, bridge, filestore and web built elsewhere (the compose test
# builds them on the host, where crates.io is reachable, and imports them with
# `docker import`). The runtime stage below is the same either way. That needs BuildKit
# (DOCKER_BUILDKIT=1), which skips the unused build stage; the legacy builder builds every
# stage.
ARG BINARIES=build

FROM rust:1-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends pkg-config make cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# target/ goes in the same step: the stage the legacy builder keeps behind (as an untagged
# image) then holds the sources and five binaries, not gigabytes of build products.
RUN cargo build --profile dist --locked --bin signal --bin focus --bin bridge --bin filestore --bin web \
    && mkdir /out \
    && cp target/dist/signal target/dist/focus target/dist/bridge target/dist/filestore target/dist/web /out/ \
    && rm -rf target

FROM ${BINARIES} AS binaries

# Run stage: slim Debian, curl for the healthchecks, a non-root user. Each binary is PID 1 of
# its container and stops cleanly on SIGTERM itself (proto::service), so `down` is quick
# without an init process.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin meet \
    && mkdir /data && chown meet:meet /data
COPY --from=binaries /out/ /usr/local/bin/
USER meet
WORKDIR /data
ENV DATA_DIR=/data RUST_LOG=info
STOPSIGNAL SIGTERM
