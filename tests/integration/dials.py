"""The client buckets of traffic dials and failback ramps, as gtmd computes
them (src/policy/policy_dial.c): the tests predict exactly which clients a
dial or a ramp moves, instead of counting on luck."""
import ipaddress
import struct

M64 = (1 << 64) - 1


def _hash(data, h=0xcbf29ce484222325):
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & M64
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & M64
    h ^= h >> 33
    h = (h * 0xc4ceb9fe1a85ec53) & M64
    h ^= h >> 33
    return h


def client_key(ecs):
    """The 8-octet key of an ECS "ADDRESS/PREFIX": its /24 (/56), masked to
    the prefix, and the family."""
    addr, plen = ecs.split("/")
    ip = ipaddress.ip_address(addr)
    v4 = ip.version == 4
    bits = 24 if v4 else 56
    scope = min(int(plen), bits)
    n = int(ip) >> (32 - bits if v4 else 128 - bits)
    n &= ~((1 << (bits - scope)) - 1)
    raw = n.to_bytes(bits // 8, "big")
    return raw + bytes(7 - len(raw)) + bytes([4 if v4 else 6])


def bucket(ecs, salt):
    return _hash(client_key(ecs) + struct.pack("<I", salt)) % 10000


def salt_of(target):
    return _hash(target.encode()) & 0xffffffff


def subnets(n, base="100.64.0.0"):
    """n distinct /24 client subnets."""
    b = int(ipaddress.ip_address(base))
    return ["%s/24" % ipaddress.ip_address(b + (i << 8)) for i in range(n)]


def binomial_bounds(n, p, sigmas=4.0):
    """Where a share p of n independent uniform buckets falls (mean +- 4
    sigma): the bound a well-mixed hash keeps for any fixed set of keys
    with overwhelming probability; the tests also check the exact set."""
    mean = n * p
    sd = (n * p * (1 - p)) ** 0.5
    return mean - sigmas * sd, mean + sigmas * sd
