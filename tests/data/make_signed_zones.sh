#!/bin/sh
# Writes the signed zones the fuzz targets and unit tests read:
#   nsec.example.net.zone   (NSEC)
#   nsec3.example.net.zone  (NSEC3, salt, 1 iteration, opt-out)
# signed with throwaway ECDSA P-256 keys that are deleted afterwards (only
# the public DNSKEYs end up in the files), valid from 2026-01-01 to
# 2090-01-01 (RRSIG times are compared modulo 2^32: at most 68 years
# ahead). Needs ldnsutils. Run from anywhere: sh tests/data/make_signed_zones.sh
set -e
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for kind in nsec nsec3; do
    o=$kind.example.net.
    cat > "$tmp/$kind.unsigned" <<ZONE
\$ORIGIN $o
\$TTL 3600
@       IN SOA ns1 hostmaster 1 7200 3600 1209600 300
        IN NS  ns1
        IN MX  10 mail
ns1     IN A   192.0.2.1
mail    IN A   192.0.2.25
www     IN A   192.0.2.80
        IN AAAA 2001:db8::80
alias   IN CNAME www
*.wild  IN A   192.0.2.99
*.wild  IN TXT "wildcard"
a.b.ent IN A   192.0.2.5
sec     IN NS  ns1.sec
ns1.sec IN A   192.0.2.53
sec     IN DS  12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE7D5C0A3E7E9F6A4E5A5D4B3C
insec   IN NS  ns.example.org.
ZONE
    cd "$tmp"
    ksk=$(ldns-keygen -a ECDSAP256SHA256 -k $o)
    zsk=$(ldns-keygen -a ECDSAP256SHA256 $o)
    opts=""
    [ $kind = nsec3 ] && opts="-n -p -s c0ffee -t 1"
    ldns-signzone $opts -i 20260101000000 -e 20900101000000 -o $o \
        -f "$here/$kind.example.net.zone" "$tmp/$kind.unsigned" "$zsk" "$ksk"
    cd - >/dev/null
done
