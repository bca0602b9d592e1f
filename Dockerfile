# One Ferry node per container: mount the cluster's folder (cluster.yaml, processes/, data) at
# /cluster and name the node to run.
#   docker build -t ferry .
#   docker run -v "$PWD:/cluster" -e FERRY_NODE=alpha -p 7101:7101 ferry
# The node's url (and `listen:`) in cluster.yaml must be reachable from the other nodes; SIGTERM
# from `docker stop` is the daemon's graceful stop (give it time: `docker stop -t 120`).
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /opt/ferry
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY cli ./cli
COPY daemon ./daemon
COPY schemas ./schemas
# Installs the run-time dependencies only; its `prepare` step builds dist/ (sucrase is one of them).
RUN npm ci --omit=dev --no-audit --no-fund
WORKDIR /cluster
ENV FERRY_CONFIG=/cluster/cluster.yaml
# As `ferry up` runs a node daemon (cli/daemon-command.ts): two malloc arenas hold less when idle.
ENV MALLOC_ARENA_MAX=2
STOPSIGNAL SIGTERM
# exec: node is PID 1's child-free replacement, so it receives the stop signal itself.
CMD ["sh", "-c", "exec node --max-semi-space-size=1 --no-lazy-feedback-allocation /opt/ferry/dist/cli/main.js daemon --node \"$FERRY_NODE\""]
