# corostorm as a container.
#   docker build --network host -t corostorm .
#   docker run --rm --network host corostorm                      # the shipped config
#   docker run --rm --network host corostorm --set scenario.stages[0].tasks=5M
# Arguments after the image name go to `corostorm` (ENTRYPOINT); the config
# file comes from COROSTORM_CONFIG, so overrides do not need to repeat -c.
# A config of your own: -v "$PWD/my.yaml:/etc/corostorm/corostorm.yaml:ro".

ARG BASE_IMAGE=debian:bookworm-slim

# ------------------------------------------------------------------ build ----
FROM ${BASE_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
# The same script README uses: one list of dependencies. Copied alone first so
# that the package layer is reused while only the sources change.
COPY scripts/setup.sh scripts/setup.sh
RUN scripts/setup.sh && rm -rf /var/lib/apt/lists/*
COPY CMakeLists.txt CMakePresets.json ./
COPY src src
RUN cmake --preset release -DCOROSTORM_BUILD_TESTS=OFF -DCOROSTORM_BUILD_BENCH=OFF >/dev/null \
 && cmake --build --preset release --target corostorm \
 && strip build/release/src/corostorm \
 && build/release/src/corostorm --version
# The runtime stage installs exactly the Debian packages that own the shared
# libraries the binary loads, so that list is derived, never kept by hand.
# (dpkg knows a library by the path its package ships, /lib or /usr/lib.)
RUN ldd build/release/src/corostorm | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' \
      | while read -r lib; do \
          dpkg-query -S "$lib" 2>/dev/null || dpkg-query -S "$(realpath "$lib")" \
            || { echo "no package owns $lib" >&2; exit 1; }; \
        done | cut -d: -f1 | sort -u > /runtime-packages \
 && echo "runtime packages: $(tr '\n' ' ' < /runtime-packages)"

# ---------------------------------------------------------------- runtime ----
FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="corostorm" \
      org.opencontainers.image.description="Holds millions of stackless C++20 coroutines on a Boost.Asio io_context pool and exports what each costs (memory per task, scheduling latency) as Prometheus metrics." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="debian:bookworm-slim"
COPY --from=build /runtime-packages /usr/share/corostorm/runtime-packages
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive xargs -a /usr/share/corostorm/runtime-packages \
      apt-get install -y -qq --no-install-recommends >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 corostorm \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin corostorm
COPY --from=build /src/build/release/src/corostorm /usr/local/bin/corostorm
COPY config/corostorm.yaml config/corostorm.schema.json /etc/corostorm/
COPY dashboards/ /usr/share/corostorm/dashboards/
ENV COROSTORM_CONFIG=/etc/corostorm/corostorm.yaml
# The numeric uid matches deploy/kubernetes (runAsUser 10001, runAsNonRoot).
USER 10001:10001
EXPOSE 9464
# bash's /dev/tcp: the slim base has no curl. Follows server.listen's default port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9464 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
# SIGTERM drains the tasks and exits 0 (docker stop's default signal).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/corostorm"]
CMD ["run"]
