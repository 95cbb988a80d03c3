#include "acl_filter.h"

namespace vsw::acl {
namespace {

void bump(std::atomic<uint64_t>& c) {
  c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

Direction opposite(Direction d) {
  return d == Direction::kToPort ? Direction::kFromPort : Direction::kToPort;
}

AclVerdict from_conn(ConnVerdict v) {
  switch (v) {
    case ConnVerdict::kPass:
      return AclVerdict::kPass;
    case ConnVerdict::kInvalid:
      return AclVerdict::kInvalid;
    case ConnVerdict::kRevoked:
      return AclVerdict::kRevoked;
    case ConnVerdict::kLimit:
      return AclVerdict::kLimit;
    case ConnVerdict::kFull:
      return AclVerdict::kFull;
  }
  return AclVerdict::kInvalid;
}

uint32_t classify_one(const CompiledAcl& acl, const PacketKey& k) {
  uint32_t r = kNoRule;
  if (k.family == Family::kIpv4) {
    const AclInput4 in = to_input4(k);
    const AclInput4* p = &in;
    acl.classify4(&p, 1, &r);
  } else {
    const AclInput6 in = to_input6(k);
    const AclInput6* p = &in;
    acl.classify6(&p, 1, &r);
  }
  return r;
}

}  // namespace

const char* to_string(AclVerdict v) {
  static constexpr const char* kNames[] = {"pass",       "acl_deny", "ct_invalid",
                                           "ct_revoked", "ct_limit", "ct_full"};
  const auto i = static_cast<size_t>(v);
  return i < sizeof(kNames) / sizeof(kNames[0]) ? kNames[i] : "?";
}

ConnPacket conn_packet(const AclPacket& p, uint16_t zone) {
  ConnPacket c;
  c.family = p.key.family;
  c.proto = p.key.proto;
  c.zone = zone;
  c.src = p.key.src;
  c.dst = p.key.dst;
  if (p.key.proto == kProtoIcmp || p.key.proto == kProtoIcmpv6) {
    c.sport = c.dport = p.echo_id;
    c.icmp_type = static_cast<uint8_t>(p.key.sport);
  } else {
    c.sport = p.key.sport;
    c.dport = p.key.dport;
    c.tcp_flags = p.tcp_flags;
  }
  return c;
}

namespace {

// filter_burst, compiled with and without the per-packet decisions (`how`) tracing wants.
template <bool kHow>
void filter(uint32_t worker, uint16_t port, Direction dir, const PortAcl& acl, Conntrack* ct,
            const AclPacket* pkts, uint32_t n, uint64_t now, AclVerdict* out,
            AclFilterCounters& counters, AclDecision* how) {
  const CompiledAcl* rules = acl.set(dir).current();
  const bool stateful = ct != nullptr && (rules->stateful_rules() != 0 ||
                                          acl.set(opposite(dir)).current()->stateful_rules() != 0);
  ConnPacket conns[kMaxFilterBurst];
  uint32_t todo[kMaxFilterBurst], n_todo = 0;
  if (!stateful) {
    for (uint32_t i = 0; i < n; ++i) todo[n_todo++] = i;
  } else {
    // Stage 1: packets of known connections are decided by conntrack, looked up in bulk.
    const ConnPacket* tracked[kMaxFilterBurst];
    uint32_t at[kMaxFilterBurst], n_tracked = 0;
    for (uint32_t i = 0; i < n; ++i) {
      conns[i] = conn_packet(pkts[i], port);
      if (trackable(conns[i])) {
        tracked[n_tracked] = &conns[i];
        at[n_tracked++] = i;
      }
    }
    ConnRef refs[kMaxFilterBurst];
    ConnDir cdirs[kMaxFilterBurst];
    ct->lookup_bulk(worker, tracked, n_tracked, refs, cdirs);
    uint32_t next = 0;  // walks `at` alongside i
    for (uint32_t i = 0; i < n; ++i) {
      const bool looked_up = next < n_tracked && at[next] == i;
      const uint32_t j = looked_up ? next++ : 0;
      if (looked_up && refs[j].found()) {
        const ConnRef ref = refs[j];
        const ConnEntry& e = ct->entry(ref);
        const auto origin = static_cast<Direction>(e.origin_dir);
        // The opener's packets cross the port the way it did, replies the other way; a
        // packet that claims otherwise is not this connection's: the rules decide it.
        if ((cdirs[j] == ConnDir::kOriginal) == (origin == dir)) {
          const CompiledAcl* origin_rules = acl.set(origin).current();
          const auto generation = static_cast<uint32_t>(origin_rules->generation());
          if (e.acl_generation.load(std::memory_order_relaxed) != generation) {
            const uint32_t r = classify_one(*origin_rules, ct->original_acl_key(ref));
            ct->recheck(ref, generation, origin_rules->action(r) != Action::kDeny);
            bump(counters.rechecked);
          }
          out[i] = from_conn(ct->update(worker, ref, cdirs[j], conns[i], now));
          if constexpr (kHow) {
            how[i] = AclDecision{};
            how[i].tracked = 1;
            how[i].state = e.state.load(std::memory_order_relaxed);
          }
          bump(counters.tracked);
          bump(counters.verdicts[static_cast<int>(out[i])]);
          continue;
        }
      }
      todo[n_todo++] = i;
    }
  }
  if (n_todo == 0) return;

  // Stage 2: one rte_acl call per family for the rest.
  AclInput4 in4[kMaxFilterBurst];
  AclInput6 in6[kMaxFilterBurst];
  const AclInput4* p4[kMaxFilterBurst];
  const AclInput6* p6[kMaxFilterBurst];
  uint32_t at4[kMaxFilterBurst], at6[kMaxFilterBurst], n4 = 0, n6 = 0;
  for (uint32_t t = 0; t < n_todo; ++t) {
    const PacketKey& k = pkts[todo[t]].key;
    if (k.family == Family::kIpv4) {
      in4[n4] = to_input4(k);
      p4[n4] = &in4[n4];
      at4[n4++] = todo[t];
    } else {
      in6[n6] = to_input6(k);
      p6[n6] = &in6[n6];
      at6[n6++] = todo[t];
    }
  }
  uint32_t r4[kMaxFilterBurst], r6[kMaxFilterBurst], rule_of[kMaxFilterBurst];
  rules->classify4(p4, n4, r4);
  rules->classify6(p6, n6, r6);
  for (uint32_t j = 0; j < n4; ++j) rule_of[at4[j]] = r4[j];
  for (uint32_t j = 0; j < n6; ++j) rule_of[at6[j]] = r6[j];

  // Stage 3: act on the rule.
  for (uint32_t t = 0; t < n_todo; ++t) {
    const uint32_t i = todo[t];
    const uint32_t r = rule_of[i];
    if (r != kNoRule) rules->count_hit(worker, r);
    bump(counters.classified);
    if constexpr (kHow) how[i] = AclDecision{};
    switch (rules->action(r)) {
      case Action::kDeny:
        out[i] = AclVerdict::kDeny;
        break;
      case Action::kPermit:
        out[i] = AclVerdict::kPass;
        break;
      case Action::kPermitStateful: {
        ConnRef ref;
        out[i] = from_conn(ct ? ct->create(worker, conns[i], dir, rules->generation(), now, &ref)
                              : ConnVerdict::kPass);
        if (kHow && out[i] == AclVerdict::kPass && ct != nullptr)
          how[i].state = ct->entry(ref).state.load(std::memory_order_relaxed);
        break;
      }
    }
    if constexpr (kHow) {
      how[i].rule_id = r == kNoRule ? UINT32_MAX : rules->rule(r).id;
      how[i].action = static_cast<uint8_t>(rules->action(r));
    }
    bump(counters.verdicts[static_cast<int>(out[i])]);
  }
}

}  // namespace

void filter_burst(uint32_t worker, uint16_t port, Direction dir, const PortAcl& acl, Conntrack* ct,
                  const AclPacket* pkts, uint32_t n, uint64_t now, AclVerdict* out,
                  AclFilterCounters& counters, AclDecision* how) {
  if (how != nullptr)
    return filter<true>(worker, port, dir, acl, ct, pkts, n, now, out, counters, how);
  filter<false>(worker, port, dir, acl, ct, pkts, n, now, out, counters, nullptr);
}

AclVerdict explain(uint16_t port, Direction dir, const PortAcl& acl, const Conntrack* ct,
                   const AclPacket& p, AclDecision* how) {
  *how = AclDecision{};
  const CompiledAcl* rules = acl.set(dir).current();
  const bool stateful = ct != nullptr && (rules->stateful_rules() != 0 ||
                                          acl.set(opposite(dir)).current()->stateful_rules() != 0);
  const ConnPacket conn = conn_packet(p, port);
  if (stateful && trackable(conn)) {
    ConnDir cdir;
    const ConnRef ref = ct->lookup(0, conn, &cdir);
    if (ref.found()) {
      const ConnEntry& e = ct->entry(ref);
      if ((cdir == ConnDir::kOriginal) == (static_cast<Direction>(e.origin_dir) == dir)) {
        how->tracked = 1;
        const auto state = static_cast<ConnState>(e.state.load(std::memory_order_relaxed));
        how->state = static_cast<uint8_t>(state);
        if (e.revoked.load(std::memory_order_relaxed)) return AclVerdict::kRevoked;
        if (conn.proto != kProtoTcp) return AclVerdict::kPass;
        const TcpStep step = tcp_step(state, cdir, conn.tcp_flags);
        how->state = static_cast<uint8_t>(step.next);
        return step.valid ? AclVerdict::kPass : AclVerdict::kInvalid;
      }
    }
  }
  const uint32_t r = classify_one(*rules, p.key);
  how->rule_id = r == kNoRule ? UINT32_MAX : rules->rule(r).id;
  how->action = static_cast<uint8_t>(rules->action(r));
  switch (rules->action(r)) {
    case Action::kDeny:
      return AclVerdict::kDeny;
    case Action::kPermit:
      return AclVerdict::kPass;
    case Action::kPermitStateful:
      break;
  }
  if (ct == nullptr) return AclVerdict::kPass;
  // A first packet that opens nothing (create()'s rule); the limit and table room are not
  // foreseen: they depend on what else arrives meanwhile.
  if (conn.proto == kProtoTcp ? !tcp_opens(conn.tcp_flags) : is_echo_reply(conn))
    return AclVerdict::kInvalid;
  return AclVerdict::kPass;
}

}  // namespace vsw::acl
