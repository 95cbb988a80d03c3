#include "port_fields.h"

#include <cctype>
#include <cstdio>

namespace vsw::fields {

std::string check_port_name(const std::string& name, const char* field) {
  const std::string f(field);
  if (name.empty()) return f + ": must not be empty";
  if (name.size() > kMaxPortNameLength)
    return f + ": '" + name + "' is longer than " + std::to_string(kMaxPortNameLength) +
           " characters";
  for (const char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-')
      return f + ": '" + name + "' may only contain letters, digits, '_', '.' and '-'";
  }
  return {};
}

std::string check_iface_name(const std::string& iface, const char* field) {
  const std::string f(field);
  if (iface.empty()) return f + ": must not be empty";
  if (iface.size() > kMaxIfaceNameLength)
    return f + ": '" + iface + "' is longer than " + std::to_string(kMaxIfaceNameLength) +
           " characters";
  for (const char c : iface) {
    if (c == ',' || c == '=' || c == '/' || std::isspace(static_cast<unsigned char>(c)))
      return f + ": '" + iface + "' is not a valid interface name";
  }
  return {};
}

std::string format_mac(const uint8_t mac[6]) {
  char text[18];
  std::snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return text;
}

bool parse_mac(const std::string& text, uint8_t out[6]) {
  return parse_mac_any(text, out) && (out[0] & 1) == 0;
}

bool parse_mac_any(const std::string& text, uint8_t out[6]) {
  if (text.size() != 17) return false;
  for (int i = 0; i < 6; ++i) {
    const char hi = text[i * 3], lo = text[i * 3 + 1];
    if (!std::isxdigit(static_cast<unsigned char>(hi)) ||
        !std::isxdigit(static_cast<unsigned char>(lo)) || (i < 5 && text[i * 3 + 2] != ':'))
      return false;
    char pair[3] = {hi, lo, 0};
    out[i] = static_cast<uint8_t>(std::strtoul(pair, nullptr, 16));
  }
  return true;
}

std::string mac_from_name(const uint8_t prefix[3], const std::string& name) {
  uint32_t h = 2166136261u;
  for (unsigned char c : name) h = (h ^ c) * 16777619u;
  const uint8_t mac[6] = {prefix[0],
                          prefix[1],
                          prefix[2],
                          static_cast<uint8_t>(h >> 16),
                          static_cast<uint8_t>(h >> 8),
                          static_cast<uint8_t>(h)};
  return format_mac(mac);
}

}  // namespace vsw::fields
