// The progress of `corostorm prove` on stderr: one line redrawn in place on a
// terminal, a plain line every 2 s otherwise (logs, CI); phase changes are
// always written, on a line of their own.
// Thread-safety: one thread (prove's control thread). Cost: a clock compare
// per due(); show() and note() write and flush stderr.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace corostorm::prove {

inline constexpr std::uint64_t tty_progress_ns = 500'000'000;      // redraw the line every 500 ms
inline constexpr std::uint64_t plain_progress_ns = 2'000'000'000;  // one line every 2 s when not a terminal

class progress_meter {
public:
    progress_meter() : tty_(::isatty(STDERR_FILENO) == 1) {}

    // The first line is due one interval after `now`.
    void begin(std::uint64_t now) { last_ns_ = now; }

    bool due(std::uint64_t now) const {
        return now >= last_ns_ + (tty_ ? tty_progress_ns : plain_progress_ns);
    }

    void show(std::uint64_t now, const std::string& text) {
        last_ns_ = now;
        if (tty_) {
            std::fprintf(stderr, "\r\033[K%s", text.c_str());
            open_line_ = true;
        } else {
            std::fprintf(stderr, "%s\n", text.c_str());
        }
        std::fflush(stderr);
    }

    // A line that stays, whatever the terminal.
    void note(std::uint64_t now, const std::string& text) {
        if (open_line_) std::fputs("\r\033[K", stderr);
        open_line_ = false;
        last_ns_ = now;
        std::fprintf(stderr, "%s\n", text.c_str());
        std::fflush(stderr);
    }

    // Ends a redrawn line so that what follows starts on its own.
    void finish() {
        if (open_line_) std::fputs("\n", stderr);
        open_line_ = false;
        std::fflush(stderr);
    }

private:
    bool tty_;
    bool open_line_ = false;
    std::uint64_t last_ns_ = 0;
};

}  // namespace corostorm::prove
