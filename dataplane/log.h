// Logging for the management thread and start-up. Workers never log: they count.
#pragma once

#include <cstdarg>

namespace vsw {

enum class LogLevel { kError, kWarning, kInfo };

// printf-style; one line to stderr, prefixed with the time and the level.
void log(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace vsw
