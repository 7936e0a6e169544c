# Switchyard gateway (and the sample model server of the demo), for docker-compose.yml.
# Build stage: all dependencies, compile TypeScript to dist/.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY proto ./proto
COPY bench ./bench
RUN npm run build

# Run stage: production dependencies and the compiled code only.
FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 8080 8081
CMD ["node", "dist/src/cli/main.js", "serve", "--config", "/config/compose.yaml"]
