# streamrec container image: `docker build -t streamrec .` (docker-compose.yml builds it too).
# See docs/docker.md. Two stages: a Debian build toolchain, then a slim runtime with only the
# shared libraries the binary links.

# ---- build ------------------------------------------------------------------------------------
FROM debian:bookworm-slim AS build

# scripts/deps.sh's list minus what only tests, benchmarks and demos need
# (ccache, catch2, libbenchmark-dev, kcat, python3*, chromium, clang, libclang-rt-dev;
# tests/deploy/check_compose.py holds the two lists to this).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      librdkafka-dev librocksdb-dev libeigen3-dev nlohmann-json3-dev libspdlog-dev libfmt-dev \
      libtomlplusplus-dev libcpp-httplib-dev libhnswlib-dev libjemalloc-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# x86-64-v2 instead of the project's default x86-64-v3 (AVX2+FMA), so the image runs on any
# x86-64 host; `--build-arg STREAMREC_MARCH=x86-64-v3` builds the faster, less portable one.
ARG STREAMREC_MARCH=x86-64-v2
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
      -DSTREAMREC_MARCH=${STREAMREC_MARCH} \
 && cmake --build build --target streamrec \
 && strip build/streamrec

# ---- runtime ----------------------------------------------------------------------------------
FROM debian:bookworm-slim

# The Debian packages of what `ldd build/streamrec` lists (RocksDB is linked statically, so
# only its compression libraries are needed; librdkafka1 brings libssl3 and libsasl2-2), plus
# ca-certificates for kafka.security.protocol=SSL/SASL_SSL against publicly signed brokers.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librdkafka1 libspdlog1.10 libfmt9 libtomlplusplus3 libcpp-httplib0.11 libjemalloc2 \
      libsnappy1v5 zlib1g libbz2-1.0 liblz4-1 libzstd1 libstdc++6 libgcc-s1 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# A fixed numeric uid/gid, so bind-mounted state directories can be chowned to it
# and orchestrators can verify the user is not root.
RUN groupadd --system --gid 10001 streamrec \
 && useradd --system --uid 10001 --gid streamrec --home-dir /var/lib/streamrec --no-create-home \
      --shell /usr/sbin/nologin streamrec \
 && mkdir -p /var/lib/streamrec /etc/streamrec \
 && chown streamrec:streamrec /var/lib/streamrec

COPY --from=build /src/build/streamrec /usr/local/bin/streamrec
COPY deploy/streamrec.toml /etc/streamrec/streamrec.toml

# Fails the image build if a shared library is missing from the list above, or if the
# bundled config has a key or value streamrec rejects.
RUN streamrec --version \
 && streamrec config --config /etc/streamrec/streamrec.toml > /dev/null

USER 10001:10001
WORKDIR /var/lib/streamrec
# The RocksDB feature store (state.dir in deploy/streamrec.toml). A named volume keeps it
# across container restarts and image upgrades.
VOLUME ["/var/lib/streamrec"]
# HTTP (http.listen): recommendations, SSE stream, dashboard, /metrics, /healthz.
EXPOSE 8080

ENTRYPOINT ["streamrec"]
CMD ["run", "--config", "/etc/streamrec/streamrec.toml"]
