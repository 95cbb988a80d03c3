#include "acl_classifier.h"

#include <rte_byteorder.h>
#include <rte_errno.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <unordered_set>

namespace vsw::acl {
namespace {

// Field order in the rules; the inputs' layout is AclInput4/AclInput6.
enum Field4 : uint8_t { kF4Proto, kF4Src, kF4Dst, kF4Sport, kF4Dport, kF4Count };
enum Field6 : uint8_t {
  kF6Proto,
  kF6Src0,
  kF6Dst0 = kF6Src0 + 4,
  kF6Sport = kF6Dst0 + 4,
  kF6Dport,
  kF6Count
};

RTE_ACL_RULE_DEF(Acl4Rule, kF4Count);
RTE_ACL_RULE_DEF(Acl6Rule, kF6Count);

rte_acl_field_def field(uint8_t type, uint8_t size, uint8_t index, uint8_t input, size_t offset) {
  return rte_acl_field_def{type, size, index, input, static_cast<uint32_t>(offset)};
}

rte_acl_config config4() {
  rte_acl_config c{};
  c.num_categories = 1;
  c.num_fields = kF4Count;
  c.defs[kF4Proto] = field(RTE_ACL_FIELD_TYPE_BITMASK, 1, kF4Proto, 0, offsetof(AclInput4, proto));
  c.defs[kF4Src] = field(RTE_ACL_FIELD_TYPE_MASK, 4, kF4Src, 1, offsetof(AclInput4, src));
  c.defs[kF4Dst] = field(RTE_ACL_FIELD_TYPE_MASK, 4, kF4Dst, 2, offsetof(AclInput4, dst));
  // The two ports share one 4-byte input group.
  c.defs[kF4Sport] = field(RTE_ACL_FIELD_TYPE_RANGE, 2, kF4Sport, 3, offsetof(AclInput4, sport));
  c.defs[kF4Dport] = field(RTE_ACL_FIELD_TYPE_RANGE, 2, kF4Dport, 3, offsetof(AclInput4, dport));
  return c;
}

rte_acl_config config6() {
  rte_acl_config c{};
  c.num_categories = 1;
  c.num_fields = kF6Count;
  c.defs[kF6Proto] = field(RTE_ACL_FIELD_TYPE_BITMASK, 1, kF6Proto, 0, offsetof(AclInput6, proto));
  // rte_acl fields are at most 8 bytes, and masks work on 4-byte groups: an IPv6 address is
  // four 32-bit fields, each with its share of the prefix length.
  for (uint8_t w = 0; w < 4; ++w) {
    c.defs[kF6Src0 + w] =
        field(RTE_ACL_FIELD_TYPE_MASK, 4, kF6Src0 + w, 1 + w, offsetof(AclInput6, src) + 4u * w);
    c.defs[kF6Dst0 + w] =
        field(RTE_ACL_FIELD_TYPE_MASK, 4, kF6Dst0 + w, 5 + w, offsetof(AclInput6, dst) + 4u * w);
  }
  c.defs[kF6Sport] = field(RTE_ACL_FIELD_TYPE_RANGE, 2, kF6Sport, 9, offsetof(AclInput6, sport));
  c.defs[kF6Dport] = field(RTE_ACL_FIELD_TYPE_RANGE, 2, kF6Dport, 9, offsetof(AclInput6, dport));
  return c;
}

uint32_t word(const std::array<uint8_t, 16>& addr, uint32_t w) {
  uint32_t be;
  std::memcpy(&be, addr.data() + 4 * w, 4);
  return rte_be_to_cpu_32(be);
}

// One 32-bit MASK field: rule values are in host byte order, the mask is a length.
void set_prefix_word(rte_acl_field& f, const std::optional<Prefix>& p, uint32_t w) {
  if (!p) {
    f.value.u32 = 0;
    f.mask_range.u32 = 0;
    return;
  }
  const int len = std::clamp(static_cast<int>(p->len) - 32 * static_cast<int>(w), 0, 32);
  f.value.u32 = len == 0 ? 0 : word(p->addr, w);
  f.mask_range.u32 = static_cast<uint32_t>(len);
}

void set_l4(rte_acl_field& proto, rte_acl_field& sport, rte_acl_field& dport, const Rule& r) {
  proto.value.u8 = r.proto.value_or(0);
  proto.mask_range.u8 = r.proto ? 0xff : 0;
  PortRange s = r.sport;
  if (r.icmp_type) s = PortRange{*r.icmp_type, *r.icmp_type};
  sport.value.u16 = s.lo;
  sport.mask_range.u16 = s.hi;
  dport.value.u16 = r.dport.lo;
  dport.mask_range.u16 = r.dport.hi;
}

rte_acl_rule_data rule_data(int32_t priority, uint32_t index) {
  // userdata 0 is rte_acl's "no match", so rule i travels as i + 1.
  return rte_acl_rule_data{1, priority, index + 1};
}

std::string make_name(char family) {
  // rte_acl_create returns an existing context of the same name instead of a new one, so a
  // rebuild under a reused name would reset the context workers are reading.
  static std::atomic<uint64_t> counter{0};
  char name[RTE_ACL_NAMESIZE];
  std::snprintf(name, sizeof(name), "vswacl%c%llu", family,
                static_cast<unsigned long long>(counter.fetch_add(1)));
  return name;
}

rte_acl_ctx* build_ctx(char family, uint32_t rule_size, const void* rules, uint32_t n,
                       const rte_acl_config& cfg, std::string* error) {
  const std::string name = make_name(family);
  rte_acl_param param{};
  param.name = name.c_str();
  param.socket_id = SOCKET_ID_ANY;
  param.rule_size = rule_size;
  param.max_rule_num = n;
  rte_acl_ctx* ctx = rte_acl_create(&param);
  if (ctx == nullptr) {
    *error = std::string("rte_acl_create: ") + rte_strerror(rte_errno);
    return nullptr;
  }
  int rc = rte_acl_add_rules(ctx, static_cast<const rte_acl_rule*>(rules), n);
  if (rc == 0) rc = rte_acl_build(ctx, &cfg);
  if (rc != 0) {
    *error =
        std::string("rte_acl build (IPv") + (family == '4' ? "4" : "6") + "): " + rte_strerror(-rc);
    rte_acl_free(ctx);
    return nullptr;
  }
  return ctx;
}

uint64_t next_generation() {
  static std::atomic<uint64_t> generation{0};
  return generation.fetch_add(1) + 1;
}

}  // namespace

AclInput4 to_input4(const PacketKey& k) {
  AclInput4 in{};
  in.proto = k.proto;
  std::memcpy(&in.src, k.src.data(), 4);
  std::memcpy(&in.dst, k.dst.data(), 4);
  in.sport = rte_cpu_to_be_16(k.sport);
  in.dport = rte_cpu_to_be_16(k.dport);
  return in;
}

AclInput6 to_input6(const PacketKey& k) {
  AclInput6 in{};
  in.proto = k.proto;
  std::memcpy(in.src, k.src.data(), 16);
  std::memcpy(in.dst, k.dst.data(), 16);
  in.sport = rte_cpu_to_be_16(k.sport);
  in.dport = rte_cpu_to_be_16(k.dport);
  return in;
}

std::unique_ptr<CompiledAcl> CompiledAcl::build(std::span<const Rule> rules, Action default_action,
                                                std::string* error) {
  if (rules.size() > kMaxRules) {
    *error = "too many rules: " + std::to_string(rules.size()) + " (at most " +
             std::to_string(kMaxRules) + " per port and direction)";
    return nullptr;
  }
  std::unordered_set<uint32_t> ids;
  for (const Rule& r : rules) {
    if (std::string e = validate(r); !e.empty()) {
      *error = "rule " + std::to_string(r.id) + ": " + e;
      return nullptr;
    }
    if (!ids.insert(r.id).second) {
      *error = "rule " + std::to_string(r.id) + ": duplicate id";
      return nullptr;
    }
  }
  std::unique_ptr<CompiledAcl> acl(new CompiledAcl());
  acl->rules_.assign(rules.begin(), rules.end());
  acl->default_action_ = default_action;
  acl->generation_ = next_generation();
  const uint32_t n = static_cast<uint32_t>(rules.size());
  for (const Rule& r : rules) {
    acl->actions_.push_back(r.action);
    acl->stateful_ += r.action == Action::kPermitStateful;
  }
  acl->hits_ = std::make_unique<std::atomic<uint64_t>[]>(size_t{kMaxAclWorkers} * (n ? n : 1));

  // rank[i]: the number of rules rule i outranks, plus one: distinct, 1..n, larger wins.
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return outranks(rules[b], rules[a]); });
  std::vector<int32_t> priority(n);
  for (uint32_t rank = 0; rank < n; ++rank) priority[order[rank]] = static_cast<int32_t>(rank + 1);

  std::vector<Acl4Rule> r4;
  std::vector<Acl6Rule> r6;
  for (uint32_t i = 0; i < n; ++i) {
    const Rule& r = rules[i];
    if (applies_to(r, Family::kIpv4)) {
      Acl4Rule a{};
      a.data = rule_data(priority[i], i);
      set_prefix_word(a.field[kF4Src], r.src, 0);
      set_prefix_word(a.field[kF4Dst], r.dst, 0);
      set_l4(a.field[kF4Proto], a.field[kF4Sport], a.field[kF4Dport], r);
      r4.push_back(a);
    }
    if (applies_to(r, Family::kIpv6)) {
      Acl6Rule a{};
      a.data = rule_data(priority[i], i);
      for (uint32_t w = 0; w < 4; ++w) {
        set_prefix_word(a.field[kF6Src0 + w], r.src, w);
        set_prefix_word(a.field[kF6Dst0 + w], r.dst, w);
      }
      set_l4(a.field[kF6Proto], a.field[kF6Sport], a.field[kF6Dport], r);
      r6.push_back(a);
    }
  }
  // A context without rules is not built (rte_acl refuses to), and classify answers "none".
  if (!r4.empty()) {
    acl->ctx4_ = build_ctx('4', sizeof(Acl4Rule), r4.data(), static_cast<uint32_t>(r4.size()),
                           config4(), error);
    if (!acl->ctx4_) return nullptr;
  }
  if (!r6.empty()) {
    acl->ctx6_ = build_ctx('6', sizeof(Acl6Rule), r6.data(), static_cast<uint32_t>(r6.size()),
                           config6(), error);
    if (!acl->ctx6_) return nullptr;
  }
  return acl;
}

CompiledAcl::~CompiledAcl() {
  rte_acl_free(ctx4_);
  rte_acl_free(ctx6_);
}

void CompiledAcl::classify4(const AclInput4* const* inputs, uint32_t n, uint32_t* results) const {
  if (ctx4_ == nullptr) {
    std::fill(results, results + n, kNoRule);
    return;
  }
  rte_acl_classify(ctx4_, reinterpret_cast<const uint8_t**>(const_cast<const AclInput4**>(inputs)),
                   results, n, 1);
  for (uint32_t i = 0; i < n; ++i) results[i] -= 1;  // 0 (no match) wraps to kNoRule
}

void CompiledAcl::classify6(const AclInput6* const* inputs, uint32_t n, uint32_t* results) const {
  if (ctx6_ == nullptr) {
    std::fill(results, results + n, kNoRule);
    return;
  }
  rte_acl_classify(ctx6_, reinterpret_cast<const uint8_t**>(const_cast<const AclInput6**>(inputs)),
                   results, n, 1);
  for (uint32_t i = 0; i < n; ++i) results[i] -= 1;
}

uint64_t CompiledAcl::hits(uint32_t index) const {
  uint64_t sum = 0;
  for (uint32_t w = 0; w < kMaxAclWorkers; ++w)
    sum += hits_[w * rules_.size() + index].load(std::memory_order_relaxed);
  return sum;
}

AclSet::AclSet(rte_rcu_qsbr* rcu, Action default_action) : rcu_(rcu) {
  std::string error;
  owned_ = CompiledAcl::build({}, default_action, &error);
  current_.store(owned_.get(), std::memory_order_release);
}

AclSet::~AclSet() = default;

std::string AclSet::update(std::span<const Rule> rules, Action default_action) {
  std::string error;
  std::unique_ptr<CompiledAcl> next = CompiledAcl::build(rules, default_action, &error);
  if (!next) return error;
  current_.store(next.get(), std::memory_order_release);
  // Workers that loaded the old pointer may use it until their next quiescent state.
  const uint64_t token = rcu_ ? rte_rcu_qsbr_start(rcu_) : 0;
  retired_.push_back(Retired{std::move(owned_), token});
  owned_ = std::move(next);
  reclaim(false);
  return {};
}

std::string AclSet::set_default(Action default_action) {
  return update(owned_->rules(), default_action);
}

size_t AclSet::reclaim(bool wait) {
  while (!retired_.empty()) {
    Retired& r = retired_.front();
    if (rcu_ && rte_rcu_qsbr_check(rcu_, r.token, wait) != 1) break;
    fold_hits(*r.acl);
    retired_.pop_front();
  }
  return retired_.size();
}

void AclSet::fold_hits(const CompiledAcl& acl) {
  for (uint32_t i = 0; i < acl.size(); ++i) {
    if (const uint64_t h = acl.hits(i); h != 0) past_hits_[acl.rule(i).id] += h;
  }
}

uint64_t AclSet::hits(uint32_t id) const {
  uint64_t sum = 0;
  if (auto it = past_hits_.find(id); it != past_hits_.end()) sum = it->second;
  auto add = [&](const CompiledAcl& acl) {
    for (uint32_t i = 0; i < acl.size(); ++i)
      if (acl.rule(i).id == id) sum += acl.hits(i);
  };
  for (const Retired& r : retired_) add(*r.acl);
  add(*owned_);
  return sum;
}

std::unordered_map<uint32_t, uint64_t> AclSet::all_hits() const {
  std::unordered_map<uint32_t, uint64_t> sum = past_hits_;
  auto add = [&](const CompiledAcl& acl) {
    for (uint32_t i = 0; i < acl.size(); ++i) {
      if (const uint64_t h = acl.hits(i); h != 0) sum[acl.rule(i).id] += h;
    }
  };
  for (const Retired& r : retired_) add(*r.acl);
  add(*owned_);
  return sum;
}

}  // namespace vsw::acl
