#!/bin/sh
# Installs the peers `npm run bench` compares edge46 with, from Debian (bookworm): HAProxy, nginx with its
# stream module (ssl_preread), sniproxy, and wrk (the HTTP load generator). All optional: the bench
# skips what is missing. Services are not started (the bench runs each with its own config, by PID).
set -eu
if [ "$(id -u)" -ne 0 ]; then
  echo "run as root (apt-get install)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d: keep the packages' own services from starting on install.
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d.edge46
chmod +x /usr/sbin/policy-rc.d.edge46
had_policy=0
[ -e /usr/sbin/policy-rc.d ] && had_policy=1
[ "$had_policy" -eq 1 ] || cp /usr/sbin/policy-rc.d.edge46 /usr/sbin/policy-rc.d
apt-get install -y -qq --no-install-recommends haproxy nginx libnginx-mod-stream sniproxy wrk
[ "$had_policy" -eq 1 ] || rm -f /usr/sbin/policy-rc.d
rm -f /usr/sbin/policy-rc.d.edge46
haproxy -v | head -n 1
nginx -v
sniproxy -V 2>&1 | head -n 1 || true
wrk --version 2>&1 | head -n 1 || true
