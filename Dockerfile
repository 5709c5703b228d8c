# syntax=docker/dockerfile:1.7
# Multi-stage build: compile in the Rust image, run in a small Debian image as a non-root user.
# BuildKit cache mounts keep the crate registry and the target directory between builds, so a
# source change recompiles callops only, not every dependency.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY locales locales
COPY prompts prompts
COPY charts charts
COPY assets assets
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked && cp target/release/callops /callops

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --create-home callops
COPY --from=build /callops /usr/local/bin/callops
USER callops
WORKDIR /data
ENV DATABASE_URL=sqlite:///data/callops.db \
    HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
VOLUME ["/data"]
# Ready = the database answers, migrations are applied, the worker pool visits the queue.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["callops", "healthcheck"]
ENTRYPOINT ["callops"]
CMD ["run"]
