// vswctl: tables, number formatting and JSON.
#include "vswctl_output.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace vsw::cli {

void Table::print(std::FILE* out) const {
  std::vector<std::size_t> widths(columns_.size());
  for (std::size_t c = 0; c < columns_.size(); ++c) widths[c] = columns_[c].header.size();
  for (const auto& row : rows_) {
    for (std::size_t c = 0; c < columns_.size() && c < row.size(); ++c) {
      widths[c] = std::max(widths[c], row[c].size());
    }
  }
  auto print_row = [&](auto cell_at) {
    std::string line;
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      const std::string& cell = cell_at(c);
      const std::size_t pad = widths[c] - cell.size();
      const bool last = c + 1 == columns_.size();
      if (c > 0) line += "  ";
      if (columns_[c].align == Align::kRight) {
        line.append(pad, ' ');
        line += cell;
      } else {
        line += cell;
        if (!last) line.append(pad, ' ');
      }
    }
    std::fprintf(out, "%s\n", line.c_str());
  };
  print_row([&](std::size_t c) -> const std::string& { return columns_[c].header; });
  static const std::string kEmpty;
  for (const auto& row : rows_) {
    print_row(
        [&](std::size_t c) -> const std::string& { return c < row.size() ? row[c] : kEmpty; });
  }
}

void KeyValues::print(std::FILE* out) const {
  std::size_t width = 0;
  for (const auto& [key, value] : lines_) width = std::max(width, key.size() + 1);
  for (const auto& [key, value] : lines_) {
    if (value.empty()) {
      // A section heading ("drops:") with its entries indented below it.
      std::fprintf(out, "%s:\n", key.c_str());
    } else {
      std::fprintf(out, "%-*s  %s\n", static_cast<int>(width), (key + ":").c_str(), value.c_str());
    }
  }
}

void print_json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  // Printing a generated message cannot fail (no Any with unknown types in vswitch.v1).
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  std::printf("%s\n", out.c_str());
}

std::string json_quote(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

std::string json_number(double value) {
  if (!std::isfinite(value)) value = 0;
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, result.ptr);
}

std::string or_dash(std::string_view text) {
  return text.empty() ? "-" : std::string(text);
}

std::string si(double value) {
  static constexpr const char* kSuffixes[] = {"", "k", "M", "G", "T", "P"};
  std::size_t i = 0;
  while (std::fabs(value) >= 999.5 && i + 1 < std::size(kSuffixes)) {
    value /= 1000;
    ++i;
  }
  if (i == 0) return fixed(value, 0);
  const int decimals = std::fabs(value) >= 99.95 ? 0 : std::fabs(value) >= 9.995 ? 1 : 2;
  return fixed(value, decimals) + kSuffixes[i];
}

std::string fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, value);
  return buf;
}

std::string duration_ms(uint64_t ms) {
  char buf[64];
  const uint64_t s = ms / 1000;
  if (ms < 1000) {
    std::snprintf(buf, sizeof(buf), "%lu ms", static_cast<unsigned long>(ms));
  } else if (s < 60) {
    std::snprintf(buf, sizeof(buf), "%.1f s", static_cast<double>(ms) / 1000);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof(buf), "%lum %02lus", static_cast<unsigned long>(s / 60),
                  static_cast<unsigned long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof(buf), "%luh %02lum", static_cast<unsigned long>(s / 3600),
                  static_cast<unsigned long>(s / 60 % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%lud %02luh", static_cast<unsigned long>(s / 86400),
                  static_cast<unsigned long>(s / 3600 % 24));
  }
  return buf;
}

std::string_view port_state_name(const vswitch::v1::Port& port) {
  if (!port.state().error().empty()) return "error";
  return port.state().programmed() ? "programmed" : "pending";
}

std::string_view xconnect_state_name(const vswitch::v1::Xconnect& xconnect) {
  if (!xconnect.error().empty()) return "error";
  return xconnect.programmed() ? "programmed" : "pending";
}

std::string_view object_state_name(bool programmed, const std::string& error) {
  if (!error.empty()) return "error";
  return programmed ? "programmed" : "pending";
}

std::vector<std::pair<std::string, uint64_t>> drop_reasons(const vswitch::v1::PortCounters& c) {
  static constexpr std::string_view kPrefix = "drop_";
  std::vector<std::pair<std::string, uint64_t>> out;
  const auto* descriptor = c.GetDescriptor();
  const auto* reflection = c.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const auto* field = descriptor->field(i);
    if (field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_UINT64 ||
        field->is_repeated() || !field->name().starts_with(kPrefix)) {
      continue;
    }
    out.emplace_back(field->name().substr(kPrefix.size()), reflection->GetUInt64(c, field));
  }
  return out;
}

uint64_t total_drops(const vswitch::v1::PortCounters& counters) {
  uint64_t sum = 0;
  for (const auto& [reason, count] : drop_reasons(counters)) sum += count;
  return sum;
}

}  // namespace vsw::cli
