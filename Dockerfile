# The MovieBook image: any `moviebook` command (`node` and `gateway` for
# Kubernetes, see deploy/kubernetes/), with the built browser app beside
# it. Build: docker build -t moviebook:latest .
# `moviebook up` in the image needs DATABASE_URL (it has no PostgreSQL).

# Build: the same pipeline as scripts/test.sh (wasm target, build-site,
# the npm wasm-opt and esbuild), in release.
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN bash -c 'source scripts/tools.sh && ensure_build_tools && build_release'

# Run: a small Debian with only what the binary needs, as a user of its own.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin moviebook
COPY --from=build /src/target/release/moviebook /usr/local/bin/moviebook
COPY --from=build /src/target/site /app/site
ENV LEPTOS_SITE_ROOT=/app/site \
    BIND_ADDRESS=0.0.0.0 \
    LOG_FORMAT=json
USER 10001
EXPOSE 3000 3001
ENTRYPOINT ["moviebook"]
CMD ["gateway"]
