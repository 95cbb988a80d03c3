// ACL rules compiled into rte_acl contexts, and their publication to workers under RCU.
//
// A CompiledAcl is immutable once built: one rte_acl context for IPv4, one for IPv6 (either
// may be absent when no rule applies to that family), the rules it was built from, and
// per-worker hit counters. The management thread builds a new one for every change, off the
// fast path, and AclSet publishes it by pointer; the old one is freed after an RCU grace
// period, so workers classify without locks and traffic never pauses (DESIGN.md, rule 2).
//
// Rule semantics are acl_rule.h's: the highest priority wins, ties go to the lower id. rte_acl
// itself leaves ties unspecified, so the compiler gives every rule a distinct rte_acl priority
// (its rank in that order) and rte_acl's answer is always the reference classifier's.
#pragma once

#include <rte_acl.h>
#include <rte_rcu_qsbr.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "acl_rule.h"

namespace vsw::acl {

// The rte_acl input for an IPv4 packet; every multi-byte field is in network byte order,
// as rte_acl_classify expects. rte_acl wants a one-byte first field followed by groups of 4
// bytes (docs/acl.md), hence the padding after the protocol.
struct alignas(4) AclInput4 {
  uint8_t proto;
  uint8_t pad[3];
  uint32_t src;
  uint32_t dst;
  uint16_t sport;  // ICMP: type
  uint16_t dport;  // ICMP: code
};
static_assert(sizeof(AclInput4) == 16, "the IPv4 ACL input is 16 bytes");

struct alignas(4) AclInput6 {
  uint8_t proto;
  uint8_t pad[3];
  uint8_t src[16];
  uint8_t dst[16];
  uint16_t sport;
  uint16_t dport;
};
static_assert(sizeof(AclInput6) == 40, "the IPv6 ACL input is 40 bytes");

AclInput4 to_input4(const PacketKey& key);
AclInput6 to_input6(const PacketKey& key);

// classify() answers a rule index, or kNoRule when no rule matches (the default applies).
inline constexpr uint32_t kNoRule = UINT32_MAX;
// The largest burst classify() takes in one call.
inline constexpr uint32_t kMaxClassifyBurst = 64;
// Hit counters are kept for this many workers.
inline constexpr uint32_t kMaxAclWorkers = 16;

class CompiledAcl {
 public:
  // Compiles `rules` (each valid by validate(), ids unique). Returns nullptr and sets *error
  // when they are not or when rte_acl cannot build (out of memory). Management thread only:
  // it allocates and can take milliseconds for thousands of rules.
  static std::unique_ptr<CompiledAcl> build(std::span<const Rule> rules, Action default_action,
                                            std::string* error);
  ~CompiledAcl();
  CompiledAcl(const CompiledAcl&) = delete;
  CompiledAcl& operator=(const CompiledAcl&) = delete;

  // ---- workers: lock-free, no allocation, thread safe ----

  // results[i] is the winning rule's index for inputs[i], or kNoRule. n <= kMaxClassifyBurst.
  void classify4(const AclInput4* const* inputs, uint32_t n, uint32_t* results) const;
  void classify6(const AclInput6* const* inputs, uint32_t n, uint32_t* results) const;

  // What to do with a packet whose classification is `index` (kNoRule: the default).
  Action action(uint32_t index) const {
    return index == kNoRule ? default_action_ : actions_[index];
  }
  // Counts a hit on rule `index` for `worker` (< kMaxAclWorkers); plain store, no lock
  // prefix: each worker owns its row.
  void count_hit(uint32_t worker, uint32_t index) const {
    std::atomic<uint64_t>& c = hits_[worker * rules_.size() + index];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  // Distinct for every build in the process: a connection or a cached flow that remembers
  // the generation it was checked against knows when the rules changed.
  uint64_t generation() const { return generation_; }

  // ---- any thread ----

  uint32_t size() const { return static_cast<uint32_t>(rules_.size()); }
  const Rule& rule(uint32_t index) const { return rules_[index]; }
  std::span<const Rule> rules() const { return rules_; }
  Action default_action() const { return default_action_; }
  // How many rules are permit-stateful: without any, in neither direction of a port,
  // conntrack has nothing to do there and the filter skips it.
  uint32_t stateful_rules() const { return stateful_; }
  // Sum over the workers of rule `index`'s hits.
  uint64_t hits(uint32_t index) const;

 private:
  CompiledAcl() = default;

  rte_acl_ctx* ctx4_ = nullptr;
  rte_acl_ctx* ctx6_ = nullptr;
  std::vector<Rule> rules_;
  std::vector<Action> actions_;
  std::unique_ptr<std::atomic<uint64_t>[]> hits_;  // [worker][rule]
  Action default_action_ = Action::kPermit;
  uint32_t stateful_ = 0;
  uint64_t generation_ = 0;
};

// The rules of one port and direction as workers see them: an RCU-published CompiledAcl.
// Hit counters of replaced contexts are carried over by rule id, so `vswctl acl list` counts
// survive rule changes.
class AclSet {
 public:
  // `rcu` is the workers' QSBR variable (nullptr: no reader ever runs, as in some tests).
  // Starts with no rules and `default_action`.
  AclSet(rte_rcu_qsbr* rcu, Action default_action = Action::kPermit);
  // Frees everything at once: call only when no worker can read the set any more.
  ~AclSet();
  AclSet(const AclSet&) = delete;
  AclSet& operator=(const AclSet&) = delete;

  // Workers: the current rules; valid until the worker's next quiescent state.
  const CompiledAcl* current() const { return current_.load(std::memory_order_acquire); }

  // ---- management thread ----

  // Compiles `rules` and publishes them; on failure the current rules stay and the error is
  // returned. The replaced context is retired, not freed: see reclaim().
  std::string update(std::span<const Rule> rules, Action default_action);
  // The same with the current rules and a new default.
  std::string set_default(Action default_action);
  // Frees retired contexts whose grace period is over (wait: waits for all of them) and
  // returns how many remain retired.
  size_t reclaim(bool wait);
  // Hits of the rule with `id`: the current context's and those of replaced ones.
  uint64_t hits(uint32_t id) const;
  // The same for every rule id at once (for `acl list`: one pass, not one per rule).
  std::unordered_map<uint32_t, uint64_t> all_hits() const;

 private:
  struct Retired {
    std::unique_ptr<CompiledAcl> acl;
    uint64_t token;
  };
  void fold_hits(const CompiledAcl& acl);

  rte_rcu_qsbr* rcu_;
  std::atomic<const CompiledAcl*> current_{nullptr};
  std::unique_ptr<CompiledAcl> owned_;
  std::deque<Retired> retired_;
  std::unordered_map<uint32_t, uint64_t> past_hits_;  // by rule id, from freed contexts
};

}  // namespace vsw::acl
