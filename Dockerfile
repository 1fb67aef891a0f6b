# labd container image, made of the Debian packages built from this tree
# (debian/; docs/operations.md, "Container image"):
#   docker build -t labd .
#   docker run -e LAB_ADMIN_TOKEN=... -v /srv/lab.conf:/etc/lab/labd.conf:ro \
#       -v lab-data:/var/lib/lab -p 127.0.0.1:9470:9470 labd
# (a mounted labd.conf should take admin.token from "${LAB_ADMIN_TOKEN}" too).
FROM debian:bookworm AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	build-essential debhelper pkgconf libuv1-dev libcurl4-openssl-dev libssl-dev libjson-c-dev \
	libconfig-dev libnats-dev libyaml-dev libgeonames-dev zlib1g-dev libdeflate-dev libisal-dev libmicrohttpd-dev libwslay-dev \
	&& rm -rf /var/lib/apt/lists/*
WORKDIR /src/labd
COPY . .
# The unit tests run in CI (`make check`); the image build skips them.
RUN DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b

FROM debian:bookworm-slim
COPY --from=build /src/labd_*.deb /tmp/
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	ca-certificates /tmp/labd_*.deb && rm -rf /var/lib/apt/lists/* /tmp/*.deb
# /var/lib/lab: plugin state and the default fs storage root.
VOLUME /var/lib/lab
EXPOSE 9470
# The admin API listens on all of the container's addresses, so it must
# have a token: the image's labd.conf takes it from $LAB_ADMIN_TOKEN
# (labd refuses to start when it is unset), never from a command line.
RUN sed -i 's|^\(\s*token = \)"";|\1"${LAB_ADMIN_TOKEN}";|' /etc/lab/labd.conf && \
	grep -q 'token = "${LAB_ADMIN_TOKEN}";' /etc/lab/labd.conf
USER labd
ENTRYPOINT ["/usr/bin/labd", "-c", "/etc/lab/labd.conf", "-D", "admin.listen=0.0.0.0:9470"]
