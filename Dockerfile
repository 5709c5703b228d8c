# Multi-stage build: compile in the Rust image, run in a small Debian image as a non-root user.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY locales locales
COPY prompts prompts
COPY charts charts
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --create-home callops
COPY --from=build /src/target/release/callops /usr/local/bin/callops
USER callops
WORKDIR /data
ENV DATABASE_URL=sqlite:///data/callops.db \
    HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
VOLUME ["/data"]
ENTRYPOINT ["callops"]
CMD ["run"]
