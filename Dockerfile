# One image recipe for every service: docker build --build-arg APP=order-service .
# Stage 1 installs and builds the workspace; stage 2 keeps only the app and its production deps.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
ARG APP
RUN test -n "$APP" || (echo "build with --build-arg APP=<service name>" && false)
RUN corepack enable
WORKDIR /workspace
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc nx.json tsconfig.base.json ./
# pnpm applies these to the packages they name (patchedDependencies in pnpm-workspace.yaml).
COPY patches patches
COPY apps apps
COPY libs libs
# For docker-compose's kafka-acls job, which runs infra/kafka/provision.mts from this stage.
COPY infra/kafka infra/kafka
RUN pnpm install --frozen-lockfile
RUN NX_DAEMON=false pnpm exec nx run "@es/${APP}:build" --outputStyle=static
RUN pnpm --filter "@es/${APP}" deploy --prod --legacy /out

FROM ${NODE_IMAGE}
ENV NODE_ENV=production HOST=0.0.0.0
WORKDIR /app
COPY --from=build /out ./
USER node
CMD ["node", "dist/main.js"]
