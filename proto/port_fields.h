// Field checks shared by vsw-controld (validation before anything is stored) and
// vsw-dataplane (which trusts no client). Pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace vsw::fields {

inline constexpr std::size_t kMaxPortNameLength = 32;
inline constexpr uint32_t kMaxQueuesPerPort = 16;
// Linux IFNAMSIZ - 1.
inline constexpr std::size_t kMaxIfaceNameLength = 15;
// sockaddr_un.sun_path less the terminating NUL, rounded down for safety.
inline constexpr std::size_t kMaxSocketPathLength = 100;

// Port names: 1..32 of [A-Za-z0-9_.-]. Returns "" or "FIELD: why" using `field` as the name.
std::string check_port_name(const std::string& name, const char* field = "name");

// Kernel interface names: 1..15 characters, none of ",=/" or white space.
std::string check_iface_name(const std::string& iface, const char* field = "iface");

// 6 bytes as "aa:bb:cc:dd:ee:ff" (lower case, as operators write MACs).
std::string format_mac(const uint8_t mac[6]);

// `prefix` (3 bytes) and 3 bytes of a hash of `name` (FNV-1a: stable across builds and
// machines, unlike std::hash): a MAC that stays the same for an object across restarts.
std::string mac_from_name(const uint8_t prefix[3], const std::string& name);

// "aa:bb:cc:dd:ee:ff" into 6 bytes. Returns false on any other form, and for multicast.
bool parse_mac(const std::string& text, uint8_t out[6]);
// The same, multicast and broadcast included (a destination, a source filter).
bool parse_mac_any(const std::string& text, uint8_t out[6]);

}  // namespace vsw::fields
