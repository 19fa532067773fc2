# syntax=docker/dockerfile:1
# aml-netdoctor REST service. Node 24 runs the TypeScript sources directly (type stripping), so
# there is no build stage: the image holds production node_modules, src/, probes/ and package.json.
#
#   docker build -t aml-netdoctor .
#   docker run --rm -p 3000:3000 -v netdoctor-data:/data -e NETDOCTOR_ACCESS_TOKEN="$(az account get-access-token --query accessToken -o tsv)" aml-netdoctor
#
# Schedules and history live in the SQLite file under /data (a volume), or, with several replicas,
# in PostgreSQL: -e DATABASE_URL=postgres://user:password@host:5432/db.

ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only (the `node` devDependency is not needed: the base image is Node 24).
# No dependency needs an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    NETDOCTOR_DB_PATH=/data/aml-netdoctor.sqlite
WORKDIR /app
# The only place the service writes: the embedded store (the code under /app stays read-only).
RUN mkdir -p /data && chown node:node /data
VOLUME /data
# Owned by root and read-only for the service user: the process cannot modify its own code.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
COPY probes ./probes
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node runs as PID 1; src/server.ts handles SIGTERM/SIGINT itself (graceful close), so no init is needed.
CMD ["node", "src/server.ts"]
