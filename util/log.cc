#include "log.h"

#include <cstdio>
#include <ctime>

namespace vsw {

namespace {
const char* program = "vswitch";
}  // namespace

void set_log_program(const char* name) {
  program = name;
}

void log(LogLevel level, const char* format, ...) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  tm parts{};
  gmtime_r(&now.tv_sec, &parts);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &parts);
  const char* tag = level == LogLevel::kError     ? "error"
                    : level == LogLevel::kWarning ? "warn"
                                                  : "info";
  char line[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof(line), format, args);
  va_end(args);
  std::fprintf(stderr, "%s.%03ldZ %s %s: %s\n", stamp, now.tv_nsec / 1000000, program, tag, line);
}

}  // namespace vsw
