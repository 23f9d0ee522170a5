# corostorm as a container.
#   docker build --network host --build-arg REVISION="$(git rev-parse HEAD)" -t corostorm .
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
# The build context has no .git: the commit comes in as a build argument and
# becomes corostorm_build_info{revision} (and the image's revision label).
ARG REVISION=unknown
RUN cmake --preset release -DCOROSTORM_BUILD_TESTS=OFF -DCOROSTORM_BUILD_BENCH=OFF \
      -DCOROSTORM_REVISION="${REVISION}" >/dev/null \
 && cmake --build --preset release --target corostorm \
 && strip build/release/src/corostorm \
 && build/release/src/corostorm --version
# The runtime root filesystem, assembled here: the binary, bash (the
# HEALTHCHECK's only tool, builtins alone), and exactly the shared objects
# `ldd` lists for the two, the dynamic loader included; derived at build time,
# never kept by hand. runtime-libraries records which Debian package and
# version each came from (the image has no dpkg database to ask).
RUN mkdir -p /rootfs/usr/local/bin /rootfs/etc /rootfs/usr/share/corostorm \
 && install -d -m 1777 /rootfs/tmp \
 && cp build/release/src/corostorm /rootfs/usr/local/bin/corostorm \
 && cp -L --parents /bin/bash /rootfs \
 && ldd /rootfs/usr/local/bin/corostorm /rootfs/bin/bash > /tmp/ldd \
 && { ! grep 'not found' /tmp/ldd || { echo "unresolved shared objects" >&2; exit 1; }; } \
 && awk '$2 == "=>" && $3 ~ /^\// { print $3 } NF > 1 && $1 ~ /^\// && $2 != "=>" { print $1 }' /tmp/ldd \
      | sort -u > /tmp/libs \
 && xargs -a /tmp/libs cp -L --parents -t /rootfs \
 && while read -r lib; do \
      pkg=$(dpkg-query -S "$lib" 2>/dev/null || dpkg-query -S "$(realpath "$lib")") \
        || { echo "no package owns $lib" >&2; exit 1; }; \
      pkg=${pkg%%: *}; \
      echo "$lib $pkg $(dpkg-query -W -f='${Version}' "$pkg")"; \
    done < /tmp/libs > /rootfs/usr/share/corostorm/runtime-libraries \
 && printf '%s\n' 'root:x:0:0:root:/root:/usr/sbin/nologin' \
      'corostorm:x:10001:10001:corostorm:/nonexistent:/usr/sbin/nologin' > /rootfs/etc/passwd \
 && printf '%s\n' 'root:x:0:' 'corostorm:x:10001:' > /rootfs/etc/group \
 && printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' > /rootfs/etc/nsswitch.conf \
 && chroot /rootfs /usr/local/bin/corostorm --version \
 && chroot /rootfs /bin/bash -c 'exit 0' \
 && echo "runtime libraries:" && cat /rootfs/usr/share/corostorm/runtime-libraries \
 && du -sh /rootfs

# ---------------------------------------------------------------- runtime ----
# Nothing but what the build stage assembled: no package manager, no coreutils.
FROM scratch
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="corostorm" \
      org.opencontainers.image.description="Holds millions of stackless C++20 coroutines on a Boost.Asio io_context pool and exports what each costs (memory per task, scheduling latency) as Prometheus metrics." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /rootfs/ /
COPY config/corostorm.yaml config/corostorm.schema.json /etc/corostorm/
COPY dashboards/ /usr/share/corostorm/dashboards/
ENV COROSTORM_CONFIG=/etc/corostorm/corostorm.yaml
# The numeric uid matches deploy/kubernetes (runAsUser 10001, runAsNonRoot).
USER 10001:10001
EXPOSE 9464
# bash's /dev/tcp and builtins only: the image has no curl, head or grep.
# Follows server.listen's default port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9464 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && read -r status <&3 && [[ $status == *' 200 '* ]]"]
# SIGTERM drains the tasks and exits 0 (docker stop's default signal).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/corostorm"]
CMD ["run"]
