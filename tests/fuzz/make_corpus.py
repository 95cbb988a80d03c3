#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/seed-*), byte-exact and
without dependencies: real frames (ARP, IPv4 TCP/UDP/ICMP, IPv6 with extension headers, ND,
VLAN, truncated ones), dataplane Request frames, TCP flag sequences. Crash inputs kept as
regression cases are named crash-* and are not touched. Run it again after changing a seed:
    tests/fuzz/make_corpus.py
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

R1 = bytes.fromhex("020000000101")
R2 = bytes.fromhex("020000000201")
A = bytes.fromhex("02000000000a")
B = bytes.fromhex("02000000000b")
G = bytes.fromhex("0200000000fe")
BCAST = b"\xff" * 6


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def ip6(a):
    import ipaddress
    return ipaddress.IPv6Address(a).packed


def eth(dst, src, etype, payload, vlan=None):
    tag = struct.pack("!HH", 0x8100, vlan) if vlan is not None else b""
    return dst + src + tag + struct.pack("!H", etype) + payload


def ipv4(src, dst, proto, payload, ttl=64, options=b"", frag=0):
    ihl = 5 + len(options) // 4
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 4 * ihl + len(payload), 1, frag, ttl,
                    proto, 0, ip4(src), ip4(dst)) + options
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def udp(sport, dport, data=b"x" * 18):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def tcp(sport, dport, flags, data=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, flags, 65535, 0, 0) + data


def icmp_echo(data=b"ping" * 4):
    h = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1) + data
    return h[:2] + struct.pack("!H", csum(h)) + h[4:]


def ipv6(src, dst, nh, payload, hlim=64):
    return struct.pack("!IHBB", 6 << 28, len(payload), nh, hlim) + ip6(src) + ip6(dst) + payload


def icmp6(src, dst, body):
    pseudo = ip6(src) + ip6(dst) + struct.pack("!IxxxB", len(body), 58)
    return body[:2] + struct.pack("!H", csum(pseudo + body[:2] + b"\0\0" + body[4:])) + body[4:]


def arp(dst, src, op, sha, spa, tha, tpa, vlan=None):
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha + ip4(spa) + tha + ip4(tpa)
    return eth(dst, src, 0x0806, body + b"\0" * 18, vlan)


def nd(dst_mac, src_mac, src, dst, typ, target, flags=0):
    body = struct.pack("!BBHI", typ, 0, 0, flags << 24) + ip6(target)
    body += struct.pack("!BB", 1 if typ == 135 else 2, 1) + src_mac
    return eth(dst_mac, src_mac, 0x86DD, ipv6(src, dst, 58, icmp6(src, dst, body), hlim=255))


def ext(nh, payload_len_units=0, fill=b""):
    """An IPv6 extension header (hop-by-hop, routing, destination options): next header,
    length in 8-byte units beyond the first 8, then padding."""
    body = fill.ljust(6 + 8 * payload_len_units, b"\0")
    return struct.pack("!BB", nh, payload_len_units) + body


def frames():
    f = {}
    f["arp-request-r1"] = arp(BCAST, A, 1, A, "10.1.0.10", b"\0" * 6, "10.1.0.1")
    f["arp-reply-r2"] = arp(R2, G, 2, G, "10.2.0.254", R2, "10.2.0.1")
    f["arp-request-vlan10"] = arp(BCAST, B, 1, B, "10.1.0.11", b"\0" * 6, "10.1.0.1", vlan=10)
    f["arp-gratuitous"] = arp(BCAST, A, 1, A, "10.1.0.10", b"\0" * 6, "10.1.0.10")
    f["udp4-switched"] = eth(B, A, 0x0800, ipv4("10.1.0.10", "10.1.0.11", 17, udp(1000, 2000)))
    f["udp4-routed"] = eth(R1, A, 0x0800, ipv4("10.1.0.10", "10.2.0.254", 17, udp(1000, 53)))
    f["udp4-routed-default"] = eth(R1, A, 0x0800, ipv4("10.1.0.10", "8.8.8.8", 17, udp(5, 53)))
    f["udp4-routed-ecmp"] = eth(R2, G, 0x0800, ipv4("10.2.0.254", "192.168.7.7", 17, udp(9, 9)))
    f["udp4-ttl1"] = eth(R1, A, 0x0800, ipv4("10.1.0.10", "10.2.0.254", 17, udp(1, 2), ttl=1))
    f["udp4-unresolved"] = eth(R1, A, 0x0800, ipv4("10.1.0.10", "10.2.0.77", 17, udp(1, 2)))
    f["tcp4-syn"] = eth(R1, A, 0x0800, ipv4("10.1.0.10", "10.2.0.254", 6, tcp(40000, 80, 0x02)))
    f["tcp4-syn-vlan10"] = eth(R1, B, 0x0800,
                               ipv4("10.1.0.11", "10.2.0.254", 6, tcp(40001, 22, 0x02)), vlan=10)
    f["icmp4-echo-r1"] = eth(R1, A, 0x0800, ipv4("10.1.0.10", "10.1.0.1", 1, icmp_echo()))
    f["icmp4-echo-routed"] = eth(R1, A, 0x0800, ipv4("10.1.0.10", "10.2.0.254", 1, icmp_echo()))
    f["ipv4-options"] = eth(R1, A, 0x0800, ipv4("10.1.0.10", "10.2.0.254", 17, udp(1, 2),
                                                options=b"\x94\x04\0\0\x01\x01\x01\0"))
    f["ipv4-fragment"] = eth(R1, A, 0x0800, ipv4("10.1.0.10", "10.2.0.254", 17, b"y" * 24,
                                                 frag=0x0003))
    f["ipv4-first-fragment"] = eth(R1, A, 0x0800, ipv4("10.1.0.10", "10.2.0.254", 17,
                                                       udp(1, 2), frag=0x2000))
    f["ipv4-broadcast"] = eth(BCAST, A, 0x0800, ipv4("10.1.0.10", "10.1.0.255", 17, udp(67, 68)))
    f["udp6-routed"] = eth(R2, G, 0x86DD, ipv6("2001:db8:2::fe", "2001:db8:1::10", 17,
                                               udp(1000, 2000)))
    f["udp6-default"] = eth(R1, A, 0x86DD, ipv6("2001:db8:1::10", "2001:db8:99::1", 17,
                                                udp(1000, 2000)))
    f["tcp6-hlim1"] = eth(R1, A, 0x86DD, ipv6("2001:db8:1::10", "2001:db8:99::1", 6,
                                              tcp(1, 443, 0x02), hlim=1))
    f["icmp6-echo-r2"] = eth(R2, G, 0x86DD, ipv6("2001:db8:2::fe", "2001:db8:2::1", 58,
                                                 icmp6("2001:db8:2::fe", "2001:db8:2::1",
                                                       b"\x80\0\0\0\x12\x34\0\x01abcd")))
    f["nd-ns-r2"] = nd(bytes.fromhex("3333ff000001"), G, "2001:db8:2::fe", "ff02::1:ff00:1",
                       135, "2001:db8:2::1")
    f["nd-na-unsolicited"] = nd(bytes.fromhex("333300000001"), G, "2001:db8:2::fe", "ff02::1",
                                136, "2001:db8:2::fe", flags=0x20)
    # Extension header chains: hop-by-hop, routing, fragment, destination options, then UDP.
    chain = ext(43, 0) + ext(44, 1) + struct.pack("!BxHI", 60, 0, 7) + ext(17, 0) + udp(7, 7)
    f["ipv6-ext-chain"] = eth(R1, A, 0x86DD, ipv6("2001:db8:1::10", "2001:db8:99::1", 0, chain))
    loop = b"".join(ext(0, 0) for _ in range(40))  # hop-by-hop forty times over
    f["ipv6-ext-long"] = eth(R1, A, 0x86DD, ipv6("2001:db8:1::10", "2001:db8:99::1", 0, loop))
    f["ipv6-ext-vlan"] = eth(R1, B, 0x86DD, ipv6("2001:db8:1::11", "2001:db8:99::1", 60,
                                                 ext(6, 0) + tcp(1, 2, 0x12)), vlan=10)
    f["vlan-unknown"] = eth(BCAST, A, 0x0800, ipv4("10.1.0.10", "10.1.0.11", 17, udp(1, 2)),
                            vlan=99)
    f["vlan-stacked"] = eth(B, A, 0x8100, struct.pack("!HH", 10, 0x0800) +
                            ipv4("10.1.0.10", "10.1.0.11", 17, udp(1, 2)), vlan=10)
    f["lldp"] = eth(bytes.fromhex("0180c200000e"), A, 0x88CC, b"\x02\x07\x04" + A + b"\0" * 30)
    f["multicast-ipv4"] = eth(bytes.fromhex("01005e000001"), A, 0x0800,
                              ipv4("10.1.0.10", "224.0.0.1", 2, b"\x11\0\xee\xff\0\0\0\0"))
    # Truncated and lying headers.
    full = f["tcp4-syn"]
    f["trunc-eth"] = full[:13]
    f["trunc-vlan"] = f["tcp4-syn-vlan10"][:16]
    f["trunc-ipv4"] = full[:14 + 19]
    f["trunc-l4"] = full[:14 + 20 + 2]
    f["trunc-ipv6"] = f["udp6-routed"][:14 + 39]
    f["ipv4-ihl4"] = full[:14] + bytes([0x44]) + full[15:]
    f["ipv4-ihl15"] = full[:14] + bytes([0x4F]) + full[15:]
    f["ipv4-total-too-long"] = full[:16] + struct.pack("!H", 1500) + full[18:]
    f["ipv4-version6"] = full[:14] + bytes([0x65]) + full[15:]
    f["ipv6-payload-too-long"] = f["udp6-routed"][:18] + b"\x05\xdc" + f["udp6-routed"][20:]
    f["empty"] = b""
    f["jumbo"] = eth(R1, A, 0x0800, ipv4("10.1.0.10", "10.2.0.254", 17, udp(1, 2, b"z" * 1800)))
    return f


def pipeline_record(port, frame):
    return bytes([port]) + struct.pack("!H", len(frame)) + frame


def pipeline_seeds(fr):
    seeds = {}
    ingress = {"vlan10": 1, "r2": 2, "routed-ecmp": 2, "udp6-routed": 2, "nd-": 2}
    for name, frame in fr.items():
        port = 0
        for key, p in ingress.items():
            if key in name:
                port = p
        seeds[name] = pipeline_record(port, frame)
    # Sequences: a flow twice (the second hits the flow cache), an ARP then traffic, a
    # MAC moving between ports.
    seeds["seq-cache-hit"] = pipeline_record(0, fr["udp4-routed"]) * 3
    seeds["seq-switched-twice"] = (pipeline_record(1, eth(A, B, 0x0800, ipv4(
        "10.1.0.11", "10.1.0.10", 17, udp(2000, 1000)), vlan=10)) +
        pipeline_record(0, fr["udp4-switched"]) * 2)
    seeds["seq-resolve"] = (pipeline_record(0, fr["udp4-unresolved"]) +
                            pipeline_record(2, arp(R2, B, 2, B, "10.2.0.77", R2, "10.2.0.1")) +
                            pipeline_record(0, fr["udp4-unresolved"]))
    seeds["seq-mac-move"] = (pipeline_record(0, fr["udp4-switched"]) +
                             pipeline_record(2, fr["udp4-switched"]) +
                             pipeline_record(0, fr["udp4-switched"]))
    return seeds


# The dataplane socket: protobuf wire format by hand (field numbers from dataplane.proto).
def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def fld(num, value):
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + value


def request(rid, body_field, body):
    return fld(1, rid) + fld(body_field, body)


def frame(msg):
    return struct.pack("!I", len(msg)) + msg


def codec_seeds():
    reqs = {
        "status": request(1, 10, b""),
        "port-add-ring": request(2, 11, fld(1, fld(1, "p1") + fld(2, 6))),
        "port-list": request(3, 13, b""),
        "bridge-add": request(4, 20, fld(1, fld(1, "br1") + fld(2, 300) + fld(3, 1024))),
        "bridge-attach": request(5, 24, fld(1, "br1") + fld(2, "p1") + fld(3, 10)),
        "mac-add": request(6, 26, fld(1, "br1") + fld(2, "02:00:00:00:00:0a") + fld(3, "p1")),
        "rif-add": request(7, 40, fld(1, fld(1, "r1") + fld(2, "br1") +
                                      fld(3, "02:00:00:00:01:01") + fld(4, "10.1.0.1/24") +
                                      fld(4, "2001:db8:1::1/64"))),
        "route-add-ecmp": request(8, 43, fld(1, fld(1, "10.9.0.0/16") + fld(2, fld(1, "10.1.0.2"))
                                             + fld(2, fld(1, "10.1.0.3"))) + fld(2, 1)),
        "route-batch": request(9, 49, fld(1, fld(1, fld(1, "10.8.0.0/16") +
                                                 fld(2, fld(1, "10.1.0.2")))) +
                               fld(2, "10.7.0.0/16")),
        "acl-set": request(10, 60, fld(1, "p1") + fld(2, 1) + fld(3, 2) +
                           fld(4, fld(1, 1) + fld(2, 100) + fld(3, 1) + fld(4, "10.0.0.0/8") +
                               fld(6, 6) + fld(8, "80"))),
        "conntrack-set": request(11, 64, fld(1, 1000) +
                                 fld(2, fld(1, "established") + fld(2, 3600)) +
                                 fld(2, fld(1, "udp_replied") + fld(2, 60))),
        "stats": request(12, 17, b""),
    }
    seeds = {}
    for name, msg in reqs.items():
        seeds[name] = b"\x07" + frame(msg)  # control byte 7: the real limit, 1-byte reads
    seeds["pipelined"] = b"\xff" + b"".join(frame(m) for m in reqs.values())
    seeds["partial"] = b"\x07" + frame(reqs["status"]) + frame(reqs["rif-add"])[:9]
    seeds["oversized"] = b"\x07" + struct.pack("!I", (16 << 20) + 1) + b"\0" * 8
    seeds["small-limit"] = b"\x02" + frame(reqs["bridge-add"])  # limit 15: oversized
    seeds["unparsable"] = b"\x07" + frame(b"\xff\xff\xff\xff\x0f")
    seeds["empty-frame"] = b"\x07" + frame(b"")
    return seeds


def conn_seeds():
    SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08
    O, R = 0, 1

    def seq(*steps):
        return b"".join(bytes([d, f]) for d, f in steps)

    return {
        "handshake-close": seq((O, SYN), (R, SYN | ACK), (O, ACK), (O, PSH | ACK), (R, ACK),
                               (O, FIN | ACK), (R, ACK), (R, FIN | ACK), (O, ACK)),
        "reply-closes-first": seq((O, SYN), (R, SYN | ACK), (O, ACK), (R, FIN | ACK),
                                  (O, FIN | ACK), (R, ACK)),
        "rst": seq((O, SYN), (R, SYN | ACK), (O, ACK), (R, RST)),
        "syn-retransmit": seq((O, SYN), (O, SYN), (R, SYN | ACK), (R, SYN | ACK), (O, ACK)),
        "bare-ack": seq((O, ACK), (R, ACK), (O, SYN | FIN)),
        "reopen": seq((O, SYN), (R, SYN | ACK), (O, ACK), (O, RST), (O, SYN), (R, SYN | ACK)),
        # Single steps from every state (bit 1 of the first byte), both directions.
        "single-steps": b"".join(bytes([2 | (s << 2) | d, f]) for s in range(12) for d in (0, 1)
                 for f in (SYN, SYN | ACK, FIN, ACK, RST, 0)),
    }


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for old in os.listdir(d):
        if old.startswith("seed-"):
            os.remove(os.path.join(d, old))
    for name, data in seeds.items():
        with open(os.path.join(d, "seed-" + name), "wb") as out:
            out.write(data)
    print(f"{target}: {len(seeds)} seeds", file=sys.stderr)


def main():
    fr = frames()
    write("packet_parser", fr)
    write("pipeline", pipeline_seeds(fr))
    write("frame_codec", codec_seeds())
    write("conn_state", conn_seeds())


if __name__ == "__main__":
    main()
