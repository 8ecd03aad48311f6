# kickstand: network install server (HTTP, TFTP, DHCP in one process).
#
# DHCP and TFTP answer broadcasts and need the host's network: run with --network host, e.g.
#   docker run --network host -v ks-data:/var/lib/kickstand -v /srv/isos:/srv/isos:ro kickstand
# The process runs as the unprivileged user `kickstand`; node carries CAP_NET_BIND_SERVICE so it
# can bind ports 67, 69 and 4011 without root. Node 26 is the active LTS line (LTS since
# 2026-10-28); the code also runs on Node 20, 22 and 24.

# --- build: install dependencies (better-sqlite3, native/netbind and native/tftpengine compile
# here, with the toolchain), compile TypeScript to dist/ with the same `npm run build` CI runs ------------------
FROM node:26-trixie AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY native ./native
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY server ./server
RUN npm run build && npm prune --omit=dev

# --- runtime: Debian's boot loaders (BIOS, UEFI, the Secure Boot chain), xorriso for buildiso; no TypeScript, no tsx ---
FROM node:26-trixie-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends pxelinux syslinux-common isolinux ipxe shim-signed grub-efi-amd64-signed xorriso ipmitool libvirt-clients openssh-client libcap2-bin \
 && setcap cap_net_bind_service=+ep "$(readlink -f "$(command -v node)")" \
 && apt-get purge -y libcap2-bin && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/kickstand --create-home kickstand
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/native ./native
COPY bin ./bin
COPY templates ./templates
COPY profiles ./profiles
ENV NODE_ENV=production \
    KICKSTAND_DATA_DIR=/var/lib/kickstand \
    KICKSTAND_ISOS_DIR=/srv/isos \
    KICKSTAND_PROFILES_DIR=/app/profiles \
    KICKSTAND_TEMPLATES_DIR=/app/templates \
    KICKSTAND_TFTP__PORT=69
VOLUME ["/var/lib/kickstand", "/srv/isos"]
EXPOSE 8080/tcp 69/udp 67/udp 4011/udp
USER kickstand
# /healthz answers 200 while the HTTP listener serves; the slim image has no curl, node has fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.KICKSTAND_HTTP__PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "bin/kickstand.js", "serve"]
