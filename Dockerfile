# kickstand: network install server (HTTP, TFTP, DHCP in one process).
#
# DHCP and TFTP answer broadcasts and need the host's network: run with --network host, e.g.
#   docker run --network host -v ks-data:/var/lib/kickstand -v /srv/isos:/srv/isos:ro kickstand
# The process runs as the unprivileged user `kickstand`; node carries CAP_NET_BIND_SERVICE so it
# can bind ports 67, 69 and 4011 without root.

# --- build: install dependencies (better-sqlite3 and native/netbind compile here, with the toolchain)
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY native ./native
RUN npm ci --omit=dev
COPY bin ./bin
COPY server ./server
COPY templates ./templates
COPY profiles ./profiles

# --- runtime: Debian's boot loaders (BIOS, UEFI, the Secure Boot chain), xorriso for buildiso ---
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends pxelinux syslinux-common isolinux ipxe shim-signed grub-efi-amd64-signed xorriso ipmitool libvirt-clients openssh-client libcap2-bin \
 && setcap cap_net_bind_service=+ep "$(readlink -f "$(command -v node)")" \
 && apt-get purge -y libcap2-bin && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/kickstand --create-home kickstand
WORKDIR /app
COPY --from=build /app /app
ENV NODE_ENV=production \
    KICKSTAND_DATA_DIR=/var/lib/kickstand \
    KICKSTAND_ISOS_DIR=/srv/isos \
    KICKSTAND_PROFILES_DIR=/app/profiles \
    KICKSTAND_TEMPLATES_DIR=/app/templates \
    KICKSTAND_TFTP__PORT=69
VOLUME ["/var/lib/kickstand", "/srv/isos"]
EXPOSE 8080/tcp 69/udp 67/udp 4011/udp
USER kickstand
CMD ["node", "bin/kickstand.js", "serve"]
