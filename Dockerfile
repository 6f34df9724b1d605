# edge46 container image. Built on a current Node LTS; the native splice addon is compiled in the build
# stage and silently skipped if it cannot build (the JS pipe engine is the fallback).
# The Helm chart and image publishing arrive with their own issue; this image already runs:
#   podman build -t edge46 . && podman run --network host edge46 --config /etc/edge46/config.yaml
FROM docker.io/library/node:24-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY native ./native
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM docker.io/library/node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/native ./native
# Binding :80/:443 as a non-root user needs CAP_NET_BIND_SERVICE (granted by the DaemonSet).
USER node
ENTRYPOINT ["node", "dist/src/main.js"]
