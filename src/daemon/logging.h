// Process-wide logging: spdlog, asynchronous, to stderr (containers collect it).
//
// Why async with overrun_oldest: a log call from any thread only copies the
// message into a bounded queue; when the queue is full the oldest message is
// dropped instead of blocking the caller, so logging can never stall a worker.
// Workers still do not log per task; the daemon logs stage changes and events.
// Format `text` is human-readable; `json` writes one JSON object per line
// (time, level, msg) for log collectors.
#pragma once

#include <spdlog/logger.h>

#include <memory>

#include "config/config.h"

namespace corostorm::daemon {

// Sets up the default logger (idempotent; later calls change level/format).
void setup_logging(const config::log_config& cfg);
// Changes the default logger's level only (a reload: the format stays).
void set_log_level(config::log_level level);
// Flushes and stops the logging thread.
void shutdown_logging();

}  // namespace corostorm::daemon
