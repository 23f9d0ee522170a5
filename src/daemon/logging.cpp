#include "daemon/logging.h"

#include <spdlog/async.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>

namespace corostorm::daemon {

namespace {

// One JSON object per line; nlohmann escapes the message, so any text
// (including quotes and control characters) stays valid JSON.
class json_formatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
        nlohmann::json line{
            {"ts", static_cast<double>(ms) / 1000.0},
            {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                                  spdlog::level::to_string_view(msg.level).size())},
            {"msg", std::string(msg.payload.data(), msg.payload.size())},
        };
        const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        dest.append(text.data(), text.data() + text.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<json_formatter>(); }
};

spdlog::level::level_enum to_spdlog(config::log_level level) {
    switch (level) {
        case config::log_level::trace:
            return spdlog::level::trace;
        case config::log_level::debug:
            return spdlog::level::debug;
        case config::log_level::info:
            return spdlog::level::info;
        case config::log_level::warn:
            return spdlog::level::warn;
        case config::log_level::error:
            return spdlog::level::err;
        case config::log_level::critical:
            return spdlog::level::critical;
        case config::log_level::off:
            return spdlog::level::off;
    }
    return spdlog::level::info;
}

}  // namespace

void setup_logging(const config::log_config& cfg) {
    auto logger = spdlog::get("corostorm");
    if (!logger) {
        spdlog::init_thread_pool(8192, 1);
        auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(spdlog::color_mode::automatic);
        logger = std::make_shared<spdlog::async_logger>("corostorm", std::move(sink), spdlog::thread_pool(),
                                                        spdlog::async_overflow_policy::overrun_oldest);
        spdlog::register_logger(logger);
        spdlog::set_default_logger(logger);
    }
    if (cfg.format == config::log_format::json) {
        logger->set_formatter(std::make_unique<json_formatter>());
    } else {
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
    }
    logger->set_level(to_spdlog(cfg.level));
    logger->flush_on(spdlog::level::warn);
}

void set_log_level(config::log_level level) { spdlog::default_logger()->set_level(to_spdlog(level)); }

void shutdown_logging() {
    // The logger is released here, last, after spdlog::shutdown() has joined
    // the pool thread: a queued message holds a reference to the logger, and
    // releasing ours first could leave its deletion to the pool thread, racing
    // with this one inside the (uninstrumented) spdlog library.
    const auto logger = spdlog::get("corostorm");
    if (logger) logger->flush();
    spdlog::shutdown();
}

}  // namespace corostorm::daemon
