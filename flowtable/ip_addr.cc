#include "ip_addr.h"

#include <arpa/inet.h>

#include <cstdlib>

namespace vsw::flow {

Prefix make_prefix(const IpAddr& addr, uint8_t len) {
  Prefix p;
  p.addr = addr;
  p.len = len;
  const unsigned bytes = addr.is_v4() ? 4 : 16;
  for (unsigned i = 0; i < bytes; ++i) {
    const unsigned first_bit = i * 8;
    if (first_bit >= len) {
      p.addr.bytes[i] = 0;
    } else if (first_bit + 8 > len) {
      p.addr.bytes[i] &= static_cast<uint8_t>(0xff << (8 - (len - first_bit)));
    }
  }
  return p;
}

bool Prefix::contains(const IpAddr& a) const {
  return a.family == addr.family && make_prefix(a, len).addr == addr;
}

bool parse_ip(const std::string& text, IpAddr* out) {
  IpAddr a;
  if (inet_pton(AF_INET, text.c_str(), a.bytes) == 1) {
    *out = a;
    return true;
  }
  a.family = Family::kIpv6;
  if (inet_pton(AF_INET6, text.c_str(), a.bytes) == 1) {
    *out = a;
    return true;
  }
  return false;
}

std::string parse_prefix(const std::string& text, Prefix* out) {
  const auto slash = text.find('/');
  IpAddr addr;
  if (!parse_ip(text.substr(0, slash), &addr)) return "'" + text + "' is not an IP prefix";
  unsigned len = addr.max_len();
  if (slash != std::string::npos) {
    const std::string digits = text.substr(slash + 1);
    char* end = nullptr;
    const unsigned long n = std::strtoul(digits.c_str(), &end, 10);
    if (digits.empty() || *end != '\0' || n > addr.max_len())
      return "'" + text + "': the length must be 0-" + std::to_string(addr.max_len());
    len = static_cast<unsigned>(n);
  }
  Prefix p = make_prefix(addr, static_cast<uint8_t>(len));
  if (!(p.addr == addr))
    return "'" + text + "' has host bits set (did you mean " + format_prefix(p) + "?)";
  *out = p;
  return {};
}

std::string format_ip(const IpAddr& addr) {
  char text[INET6_ADDRSTRLEN];
  inet_ntop(addr.is_v4() ? AF_INET : AF_INET6, addr.bytes, text, sizeof(text));
  return text;
}

std::string format_prefix(const Prefix& prefix) {
  return format_ip(prefix.addr) + "/" + std::to_string(prefix.len);
}

}  // namespace vsw::flow
