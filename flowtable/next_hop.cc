#include "next_hop.h"

#include <rte_malloc.h>

#include <algorithm>

namespace vsw::flow {

NextHopTable::NextHopTable(rte_rcu_qsbr* rcu) : rcu_(rcu) {
  const uint32_t hop_slots = kFirstNextHop + kMaxNextHops;
  hops_ = static_cast<NextHopEntry*>(
      rte_zmalloc("vsw_next_hops", sizeof(NextHopEntry) * hop_slots, RTE_CACHE_LINE_SIZE));
  groups_ = static_cast<EcmpGroupEntry*>(
      rte_zmalloc("vsw_ecmp_groups", sizeof(EcmpGroupEntry) * kMaxEcmpGroups, RTE_CACHE_LINE_SIZE));
  hop_specs_.resize(hop_slots);
  refs_hops_.assign(hop_slots, 0);
  group_members_.resize(kMaxEcmpGroups);
  refs_groups_.assign(kMaxEcmpGroups, 0);
  // Hand out low values first: pop_back takes the end of the list.
  for (uint32_t v = hop_slots; v-- > kFirstNextHop;) free_hops_.push_back(v);
  for (uint32_t g = kMaxEcmpGroups; g-- > 0;) free_groups_.push_back(kEcmpGroupBase + g);
}

NextHopTable::~NextHopTable() {
  rte_free(hops_);
  rte_free(groups_);
}

void NextHopTable::reclaim(bool wait) {
  while (!deferred_.empty()) {
    const Deferred& d = deferred_.front();
    if (rcu_ != nullptr && rte_rcu_qsbr_check(rcu_, d.token, wait) != 1) return;
    (is_ecmp_value(d.value) ? free_groups_ : free_hops_).push_back(d.value);
    deferred_.pop_front();
  }
}

uint32_t NextHopTable::take_free(std::vector<uint32_t>& free_list) {
  reclaim(false);
  if (free_list.empty() && !deferred_.empty()) reclaim(true);
  if (free_list.empty()) return 0;
  const uint32_t v = free_list.back();
  free_list.pop_back();
  return v;
}

uint32_t NextHopTable::acquire_hop(const NextHop& hop, std::string* error) {
  NextHop key = hop;
  if (key.connected) key.gateway = IpAddr{};
  if (auto it = hop_ids_.find(key); it != hop_ids_.end()) {
    ++refs_hops_[it->second];
    return it->second;
  }
  const uint32_t v = take_free(free_hops_);
  if (v == 0) {
    *error = "next hops: the limit of " + std::to_string(kMaxNextHops) + " is reached";
    return 0;
  }
  NextHopEntry& e = hops_[v];
  e.rif = key.rif;
  e.connected = key.connected;
  e.is_v6 = !key.gateway.is_v4();
  std::memcpy(e.gateway, key.gateway.bytes, 16);
  hop_ids_[key] = v;
  hop_specs_[v] = key;
  refs_hops_[v] = 1;
  return v;
}

uint32_t NextHopTable::acquire(const std::vector<NextHop>& hops, std::string* error) {
  if (hops.empty() || hops.size() > kMaxEcmpWays) {
    *error = "next hops: a route takes 1 to " + std::to_string(kMaxEcmpWays) + ", not " +
             std::to_string(hops.size());
    return 0;
  }
  std::vector<NextHop> sorted = hops;
  for (NextHop& h : sorted) {
    if (h.connected) h.gateway = IpAddr{};
  }
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    *error = "next hops: the same next hop is named twice";
    return 0;
  }
  std::vector<uint32_t> members;
  for (const NextHop& h : sorted) {
    const uint32_t v = acquire_hop(h, error);
    if (v == 0) {
      for (uint32_t m : members) release(m);
      return 0;
    }
    members.push_back(v);
  }
  if (members.size() == 1) return members[0];
  std::sort(members.begin(), members.end());
  if (auto it = group_ids_.find(members); it != group_ids_.end()) {
    // The group already holds a reference to each member.
    for (uint32_t m : members) release(m);
    ++refs_groups_[it->second - kEcmpGroupBase];
    return it->second;
  }
  const uint32_t g = take_free(free_groups_);
  if (g == 0) {
    for (uint32_t m : members) release(m);
    *error = "ECMP groups: the limit of " + std::to_string(kMaxEcmpGroups) + " is reached";
    return 0;
  }
  EcmpGroupEntry& e = groups_[g - kEcmpGroupBase];
  e.count = static_cast<uint16_t>(members.size());
  for (size_t i = 0; i < members.size(); ++i) e.members[i] = static_cast<uint16_t>(members[i]);
  group_ids_[members] = g;
  group_members_[g - kEcmpGroupBase] = members;
  refs_groups_[g - kEcmpGroupBase] = 1;
  return g;
}

void NextHopTable::release(uint32_t value) {
  const uint64_t token = rcu_ != nullptr ? rte_rcu_qsbr_start(rcu_) : 0;
  if (is_ecmp_value(value)) {
    const uint32_t i = value - kEcmpGroupBase;
    if (refs_groups_[i] == 0 || --refs_groups_[i] > 0) return;
    const std::vector<uint32_t> members = std::move(group_members_[i]);
    group_ids_.erase(members);
    group_members_[i].clear();
    deferred_.push_back({value, token});
    for (uint32_t m : members) release(m);
    return;
  }
  if (value < kFirstNextHop || refs_hops_[value] == 0 || --refs_hops_[value] > 0) return;
  hop_ids_.erase(hop_specs_[value]);
  deferred_.push_back({value, token});
}

std::vector<NextHop> NextHopTable::describe(uint32_t value) const {
  if (is_ecmp_value(value)) {
    std::vector<NextHop> out;
    for (uint32_t m : group_members_[value - kEcmpGroupBase]) out.push_back(hop_specs_[m]);
    return out;
  }
  if (value < kFirstNextHop || refs_hops_[value] == 0) return {};
  return {hop_specs_[value]};
}

uint32_t NextHopTable::refs(uint32_t value) const {
  if (is_ecmp_value(value)) return refs_groups_[value - kEcmpGroupBase];
  return value < kFirstNextHop ? 0 : refs_hops_[value];
}

}  // namespace vsw::flow
