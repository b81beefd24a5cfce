# The fleet: one Node process holding a Baileys socket per WhatsApp number
# (README "Run the fleet"). Node 24 runs fleet/*.ts as they are (type
# stripping), so there is no build step: the image is production
# dependencies plus fleet/ and shared/.
#
#   docker build -t pombo-fleet .
#   docker run --env-file fleet.env pombo-fleet
#
# test/e2e/fleet-install.test.ts installs and starts the fleet the way this
# file says (it reads the COPY, RUN, ENV, CMD and HEALTHCHECK lines below), so
# keep each instruction on one line.

FROM node:24-slim AS install
WORKDIR /app
COPY package.json package-lock.json ./
# Only the patches of production packages: Baileys acknowledges a message only after the fleet spooled it; libsignal never prints session keys.
COPY patches/@whiskeysockets+baileys+*.patch patches/libsignal+*.patch ./patches/
# --ignore-scripts: the root postinstall builds the console with dev tools, and no production package needs its own script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
# patch-package is a devDependency: run the version package.json pins.
RUN npx --yes patch-package@$(node -p "require('./package.json').devDependencies['patch-package']")

FROM node:24-slim
ENV NODE_ENV=production
ENV POMBO_FLEET_DATA_DIR=/var/lib/pombo/fleet
ENV POMBO_METRICS_PORT=9464
ENV POMBO_METRICS_HOST=0.0.0.0
ENV POMBO_LOG_FORMAT=json
WORKDIR /app
COPY --from=install /app/node_modules ./node_modules
COPY package.json ./
COPY shared ./shared
COPY fleet ./fleet
# The spool (received messages the edge has not stored yet) belongs to the unprivileged user the official image ships.
RUN mkdir -p /var/lib/pombo/fleet && chown -R node:node /var/lib/pombo && chmod 700 /var/lib/pombo/fleet
VOLUME /var/lib/pombo
USER node
EXPOSE 9464
# 200 while linked to the edge (fleet/metrics.ts); node itself probes, a slim image has no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.POMBO_METRICS_PORT + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains (fleet/main.ts: sockets closed, leases released, spool emptied) in at most 5 s, inside docker stop's 10 s.
STOPSIGNAL SIGTERM
CMD ["node", "fleet/main.ts"]
