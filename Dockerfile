# syntax=docker/dockerfile:1
# One image for every part of kinfer: `kinfer operator`, `kinfer runtime`, `kinfer job`, ...
#   docker build -t ghcr.io/kinfer-dev/kinfer:0.1.0 .
#   docker run --rm -p 8080:8080 ghcr.io/kinfer-dev/kinfer:0.1.0            # kinfer runtime
#   docker run --rm ghcr.io/kinfer-dev/kinfer:0.1.0 operator --help
ARG NODE_IMAGE=node:24-bookworm-slim

# Build: all dependencies, TypeScript compiled to dist/ (bin/kinfer.js runs dist/ when src/ is absent).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
  # Files tsc does not emit (HTML and other assets next to the sources) go beside the compiled code.
  && cd src && find . -type f ! -name '*.ts' -exec cp --parents {} ../dist/ \;

# Runtime: production dependencies only, no compiler, no sources, not root.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY models ./models
COPY datasets ./datasets
# Numeric, so Kubernetes can verify runAsNonRoot (the node user of the base image).
USER 1000:1000
EXPOSE 8080
ENTRYPOINT ["node", "bin/kinfer.js"]
CMD ["runtime"]
