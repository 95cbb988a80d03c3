// vswctl: human output (aligned tables, numbers, key/value blocks) and JSON output.
#pragma once

#include <google/protobuf/message.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vswitch.pb.h"

namespace vsw::cli {

// A table with a header row and columns as wide as their widest cell, two spaces apart.
// Numbers are right-aligned so that their digits line up; the last column is not padded, so
// a long free-text column (rx queues, errors) does not push trailing blanks.
class Table {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string header;
    Align align = Align::kLeft;
  };

  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

  // `cells` has one entry per column (missing ones print empty).
  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }
  void print(std::FILE* out = stdout) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// "key:  value" lines with the values aligned; a key starting with spaces is indented under the
// previous one. Keeps 'port show' and 'status' greppable ("^link:").
class KeyValues {
 public:
  void add(std::string key, std::string value) {
    lines_.emplace_back(std::move(key), std::move(value));
  }
  void print(std::FILE* out = stdout) const;

 private:
  std::vector<std::pair<std::string, std::string>> lines_;
};

// The response as one JSON document on one line: the proto3 JSON mapping with the .proto field
// names and every scalar field present (zeros and empty strings included), so scripts need
// no defaults; an unset sub-message is still omitted. 64-bit integers are JSON strings, as that
// mapping specifies.
void print_json(const google::protobuf::Message& message);

// A JSON string literal, quoted and escaped, for documents vswctl builds itself (stats --watch).
std::string json_quote(std::string_view text);
// A JSON number: the shortest text that reads back as `value` (non-finite values become 0).
std::string json_number(double value);

// "-" for an empty string, so that a table cell or a value is never blank.
std::string or_dash(std::string_view text);
// A rate or size with an SI suffix and three significant digits: 950, 1.23k, 45.6M, 9.87G.
std::string si(double value);
// A value with `decimals` digits after the point.
std::string fixed(double value, int decimals);
// "850 ms", "12.3 s", "5m 02s", "3h 04m", "2d 03h".
std::string duration_ms(uint64_t ms);

// The port's state as tables show it: "error" when the dataplane refused it, "programmed", or
// "pending" (stored, not yet on the dataplane: it is disconnected or still replaying).
std::string_view port_state_name(const vswitch::v1::Port& port);
// The same for a cross-connect.
std::string_view xconnect_state_name(const vswitch::v1::Xconnect& xconnect);

// The same for any object with a programmed flag and an error (bridges, attachments, MACs).
std::string_view object_state_name(bool programmed, const std::string& error);

// Every drop_* counter of PortCounters as (reason, count), in .proto order. Read by reflection
// so that a drop reason added to the .proto shows up without touching vswctl.
std::vector<std::pair<std::string, uint64_t>> drop_reasons(const vswitch::v1::PortCounters& c);
uint64_t total_drops(const vswitch::v1::PortCounters& counters);

}  // namespace vsw::cli
