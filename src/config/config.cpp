// Loading: bytes -> YAML tree -> --set overrides -> validated config. Also the defaults
// and the names of the enumerations.
#include "config/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <sstream>
#include <system_error>

#include "config/errors.h"
#include "config/overrides.h"
#include "config/yaml_tree.h"

namespace corostorm::config {
namespace {

using namespace std::chrono_literals;

// Far above any hand-written config, low enough that pointing -c at a log file or a
// binary fails at once instead of parsing it.
constexpr std::size_t max_config_bytes = 1U << 20U;

std::string byte_position(std::string_view text, std::size_t offset) {
    const std::string_view before = text.substr(0, offset);
    const auto line = std::count(before.begin(), before.end(), '\n') + 1;
    const std::size_t line_start = before.rfind('\n') + 1;  // npos + 1 == 0 on line 1
    return "byte offset " + std::to_string(offset) + " (line " + std::to_string(line) + ", column " +
           std::to_string(offset - line_start + 1) + ")";
}

// yaml-cpp copies malformed UTF-8 into values unchanged and reports a NUL byte, if at all,
// as an unrelated syntax error, so the bytes are checked before parsing.
void check_bytes(std::string_view text, std::string_view origin) {
    const std::string prefix = std::string(origin) + ": ";
    if (text.size() > max_config_bytes) {
        throw config_error(prefix + "config is larger than the 1 MiB limit");
    }
    std::size_t at = 0;
    while (at < text.size()) {
        const auto lead = static_cast<unsigned char>(text[at]);
        if (lead < 0x80U) {
            if ((lead < 0x20U && lead != '\t' && lead != '\n' && lead != '\r') || lead == 0x7FU) {
                constexpr std::string_view hex = "0123456789abcdef";
                throw config_error(prefix + "control character 0x" + hex[lead / 16U] + hex[lead % 16U] +
                                   " at " + byte_position(text, at) + "; YAML text cannot contain it");
            }
            ++at;
            continue;
        }
        char32_t code = 0;
        const std::size_t length = detail::utf8_sequence(text, at, code);
        if (length == 0) {
            throw config_error(prefix + "invalid UTF-8 at " + byte_position(text, at) +
                               "; save the file as UTF-8");
        }
        at += length;
    }
}

std::string mark_position(std::string_view origin, const YAML::Mark& mark) {
    if (mark.is_null()) {
        return std::string(origin);
    }
    return std::string(origin) + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

YAML::Node parse_document(std::string_view text, std::string_view origin) {
    detail::yaml_text parsed;
    try {
        parsed = detail::parse_yaml(std::string(text));
    } catch (const YAML::DeepRecursion& e) {
        throw config_error(mark_position(origin, e.mark) + ": invalid YAML: nested more than " +
                           std::to_string(e.depth() - 1) + " levels deep");
    } catch (const YAML::ParserException& e) {
        // yaml-cpp's message may quote the offending byte as is (a NUL, a stray 0xFF).
        throw config_error(mark_position(origin, e.mark) + ": invalid YAML: " + detail::as_typed(e.msg));
    }
    if (parsed.documents == 0) {
        throw config_error(std::string(origin) + ": config file is empty; write {} for all defaults");
    }
    if (parsed.documents > 1) {
        throw config_error(std::string(origin) + ": holds " + std::to_string(parsed.documents) +
                           " YAML documents; a config is a single document");
    }
    if (!parsed.first.IsMap()) {
        throw config_error(std::string(origin) +
                           ": the top level must be a map of sections (server, log, runtime, "
                           "memory, latency, scenario, workloads), got " +
                           detail::describe(parsed.first));
    }
    return parsed.first;
}

// True when one key path is the other or lies inside it.
bool overlaps(std::string_view a, std::string_view b) {
    if (a.size() > b.size()) {
        std::swap(a, b);
    }
    return b.starts_with(a) && (b.size() == a.size() || b[a.size()] == '.' || b[a.size()] == '[');
}

config build(YAML::Node root, const std::vector<override_entry>& overrides) {
    struct applied {
        std::string path;
        std::string text;
    };
    std::vector<applied> done;
    for (const override_entry& entry : overrides) {
        std::string text = entry.path + "=" + entry.value;
        check_bytes(text, "--set");
        try {
            detail::applied_override result = detail::apply_override(root, entry);
            root.reset(result.root);  // rebinds the handle; assigning would write through it
            done.push_back({std::move(result.path), text});
        } catch (const detail::key_error& e) {
            throw config_error(std::string(e.what()) + " (from --set " + detail::as_typed(text) + ")");
        }
    }
    try {
        return detail::from_tree(root);
    } catch (const detail::key_error& e) {
        // The value may not be in the file at all; say where it came from. The last
        // override on a path is the one that took effect.
        for (auto it = done.rbegin(); it != done.rend(); ++it) {
            if (overlaps(e.path(), it->path)) {
                throw config_error(std::string(e.what()) + " (from --set " + detail::as_typed(it->text) +
                                   ")");
            }
        }
        throw;
    }
}

}  // namespace

namespace detail {
namespace {

// Counts the documents of a stream without building them. yaml-cpp 0.7 leaves a token that
// no node can start with (a ',' outside [ ] and { }) where it is and starts the next
// document at it again, so its LoadAll piles up empty documents until memory runs out
// (yaml-cpp issue #1040). A document that starts where the previous one did is that case.
class document_counter final : public YAML::EventHandler {
public:
    explicit document_counter(std::string_view text) : text_(text) {}

    std::size_t documents() const { return documents_; }

    void OnDocumentStart(const YAML::Mark& mark) override {
        if (documents_ > 0 && mark.pos == last_start_) {
            throw YAML::ParserException(mark, "unexpected " + character_at(mark));
        }
        last_start_ = mark.pos;
        ++documents_;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}

private:
    std::string character_at(const YAML::Mark& mark) const {
        // A mark counts bytes after the byte order mark, which the reader skips.
        constexpr std::string_view bom = "\xEF\xBB\xBF";
        const std::size_t at = static_cast<std::size_t>(mark.pos) + (text_.starts_with(bom) ? bom.size() : 0);
        char32_t code = 0;
        const std::size_t length = at < text_.size() ? utf8_sequence(text_, at, code) : 0;
        return length == 0 ? std::string("text") : quote(text_.substr(at, length));
    }

    std::string_view text_;
    std::size_t documents_ = 0;
    int last_start_ = -1;
};

}  // namespace

yaml_text parse_yaml(const std::string& text) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    document_counter counter(text);
    while (parser.HandleNextDocument(counter)) {
    }
    yaml_text out;
    out.documents = counter.documents();
    if (out.documents > 0) {
        out.first = YAML::Load(text);
    }
    return out;
}

}  // namespace detail

std::vector<stage_config> default_stages() {
    return {{"ramp", std::uint64_t{1'000'000}, 30s},
            {"hold", std::nullopt, 10min},
            {"drain", std::uint64_t{0}, 10s}};
}

std::vector<workload_config> default_workloads() {
    workload_config idle;
    idle.name = "idle";
    idle.kind = workload_kind::sleep;
    idle.weight = 1.0;
    idle.sleep.period = 1s;
    idle.sleep.rounds = 0;
    return {idle};
}

config defaults() {
    config c;
    c.scenario.stages = default_stages();
    c.workloads = default_workloads();
    return c;
}

override_entry parse_override(std::string_view key_equals_value) {
    const std::size_t eq = key_equals_value.find('=');
    if (eq == std::string_view::npos || eq == 0) {
        throw config_error("--set: expected KEY=VALUE, got " + detail::quote(key_equals_value));
    }
    return {std::string(key_equals_value.substr(0, eq)), std::string(key_equals_value.substr(eq + 1))};
}

config load_string(std::string_view yaml_text, const std::vector<override_entry>& overrides,
                   std::string_view origin) {
    check_bytes(yaml_text, origin);
    return build(parse_document(yaml_text, origin), overrides);
}

config load_file(const std::string& path, const std::vector<override_entry>& overrides) {
    // Opened without blocking and checked on the open descriptor: a FIFO (or
    // a socket) would block open() or read() until someone writes to it,
    // hanging check-config or the reload on SIGHUP; one swapped in between a
    // check by name and the open is caught too.
    const std::string shown = shown_path(path);
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        const int error = errno;
        if (error == ENOENT || error == EACCES || error == ENOTDIR || error == ELOOP) {
            throw config_error(shown +
                               ": cannot read config file: " + std::generic_category().message(error));
        }
        throw config_error(shown + ": cannot open config file: " + std::generic_category().message(error));
    }
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } guard{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        throw config_error(shown + ": cannot read config file: " + std::generic_category().message(errno));
    }
    if (S_ISDIR(st.st_mode)) throw config_error(shown + ": is a directory, not a config file");
    if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
        throw config_error(shown + ": is a " + (S_ISFIFO(st.st_mode) ? "FIFO" : "socket") +
                           ", not a config file (give a regular file)");
    }
    // Blocking again for what may block legitimately (a slow disk).
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    // One byte more than the limit is enough to know the file is too large, and reading
    // no further keeps -c /dev/zero from running out of memory.
    std::string text(max_config_bytes + 1, '\0');
    std::size_t got = 0;
    while (got < text.size()) {
        const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            throw config_error(shown +
                               ": cannot read config file: " + std::generic_category().message(errno));
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    text.resize(got);
    return load_string(text, overrides, shown);
}

std::string shown_path(std::string_view path) { return detail::as_typed(path); }

config load_defaults(const std::vector<override_entry>& overrides) {
    return build(YAML::Node(YAML::NodeType::Map), overrides);
}

std::string_view to_string(log_level v) {
    switch (v) {
        case log_level::trace:
            return "trace";
        case log_level::debug:
            return "debug";
        case log_level::info:
            return "info";
        case log_level::warn:
            return "warn";
        case log_level::error:
            return "error";
        case log_level::critical:
            return "critical";
        case log_level::off:
            return "off";
    }
    return "?";
}

std::string_view to_string(log_format v) {
    switch (v) {
        case log_format::text:
            return "text";
        case log_format::json:
            return "json";
    }
    return "?";
}

std::string_view to_string(engine_kind v) {
    switch (v) {
        case engine_kind::lean:
            return "lean";
        case engine_kind::asio:
            return "asio";
    }
    return "?";
}

std::string_view to_string(layout_kind v) {
    switch (v) {
        case layout_kind::per_thread:
            return "per_thread";
        case layout_kind::shared:
            return "shared";
    }
    return "?";
}

std::string_view to_string(hand_off_kind v) {
    switch (v) {
        case hand_off_kind::next:
            return "next";
        case hand_off_kind::fifo:
            return "fifo";
    }
    return "?";
}

std::string_view to_string(asio_executor_kind v) {
    switch (v) {
        case asio_executor_kind::any:
            return "any";
        case asio_executor_kind::typed:
            return "typed";
    }
    return "?";
}

std::string_view to_string(asio_allocator_kind v) {
    switch (v) {
        case asio_allocator_kind::recycling:
            return "recycling";
        case asio_allocator_kind::worker:
            return "worker";
    }
    return "?";
}

std::string_view to_string(asio_token_kind v) {
    switch (v) {
        case asio_token_kind::use_awaitable:
            return "use_awaitable";
        case asio_token_kind::deferred:
            return "deferred";
    }
    return "?";
}

std::string_view to_string(workload_kind v) {
    switch (v) {
        case workload_kind::sleep:
            return "sleep";
        case workload_kind::yield:
            return "yield";
        case workload_kind::ring:
            return "ring";
        case workload_kind::spawn_tree:
            return "spawn_tree";
        case workload_kind::cpu:
            return "cpu";
        case workload_kind::echo:
            return "echo";
        case workload_kind::rpc:
            return "rpc";
    }
    return "?";
}

}  // namespace corostorm::config
