// Logging for daemons' control threads and start-up. Dataplane workers never log: they count.
#pragma once

#include <cstdarg>

namespace vsw {

enum class LogLevel { kError, kWarning, kInfo };

// Names the program in every line ("vsw-dataplane"); call once at start.
void set_log_program(const char* name);

// printf-style; one line to stderr, prefixed with the time, the program and the level.
void log(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace vsw
