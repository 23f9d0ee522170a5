#include "metrics/process_collector.h"

#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>
#include <prometheus/text_serializer.h>

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace corostorm::metrics {
namespace {

namespace fs = std::filesystem;
using prometheus::MetricType;

struct expected_family {
    std::string_view name;
    MetricType type;
    std::string_view type_word;  // as written on the # TYPE line
};

constexpr std::array<expected_family, 7> expected_families{{
    {"process_cpu_seconds_total", MetricType::Counter, "counter"},
    {"process_resident_memory_bytes", MetricType::Gauge, "gauge"},
    {"process_virtual_memory_bytes", MetricType::Gauge, "gauge"},
    {"process_open_fds", MetricType::Gauge, "gauge"},
    {"process_max_fds", MetricType::Gauge, "gauge"},
    {"process_start_time_seconds", MetricType::Gauge, "gauge"},
    {"process_threads", MetricType::Gauge, "gauge"},
}};

const prometheus::MetricFamily* find_family(const std::vector<prometheus::MetricFamily>& families,
                                            std::string_view name) {
    const auto found = std::find_if(families.begin(), families.end(),
                                    [&](const auto& family) { return family.name == name; });
    return found == families.end() ? nullptr : &*found;
}

// The single sample of family `name`, whichever its type.
double value_of(const std::vector<prometheus::MetricFamily>& families, std::string_view name) {
    const auto* family = find_family(families, name);
    if (family == nullptr || family->metric.size() != 1) {
        ADD_FAILURE() << name << " has no single sample";
        return 0;
    }
    const auto& sample = family->metric.front();
    return family->type == MetricType::Counter ? sample.counter.value : sample.gauge.value;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

std::optional<fs::path> find_on_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path == nullptr ? "" : path);
    for (std::string dir; std::getline(dirs, dir, ':');) {
        const fs::path candidate = fs::path(dir.empty() ? "." : dir) / program;
        if (::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
    }
    return std::nullopt;
}

struct command_result {
    int exit_code = -1;  // -1 when the command did not exit normally
    std::string output;  // stdout and stderr together
};

// Runs `program args < input_file` through the shell and collects what it prints.
command_result run_with_input(const fs::path& program, const std::string& args, const fs::path& input_file) {
    // Appended piece by piece: g++ 12 at -O2 falsely reports overlapping memcpy
    // (-Wrestrict) for "literal" + std::string&&.
    std::string command = "'";
    command.append(program.string()).append("' ").append(args);
    command.append(" < '").append(input_file.string()).append("' 2>&1");
    command_result result;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
        throw std::system_error(errno, std::generic_category(), "popen " + command);
    }
    std::array<char, 4096> chunk{};
    while (const std::size_t n = std::fread(chunk.data(), 1, chunk.size(), pipe)) {
        result.output.append(chunk.data(), n);
    }
    const int status = ::pclose(pipe);
    if (status != -1 && WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    }
    return result;
}

double unix_time_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(ProcessCollector, exports_each_standard_family_once) {
    const auto families = process_collector{}.Collect();

    EXPECT_EQ(families.size(), expected_families.size());
    for (const auto& expected : expected_families) {
        SCOPED_TRACE(expected.name);
        const auto count = std::count_if(families.begin(), families.end(),
                                         [&](const auto& f) { return f.name == expected.name; });
        ASSERT_EQ(count, 1);
        const auto* family = find_family(families, expected.name);
        EXPECT_EQ(family->type, expected.type);
        EXPECT_FALSE(family->help.empty());
        ASSERT_EQ(family->metric.size(), 1U);
        EXPECT_TRUE(family->metric.front().label.empty());
    }
}

TEST(ProcessCollector, values_describe_this_process) {
    const auto families = process_collector{}.Collect();

    EXPECT_GE(value_of(families, "process_cpu_seconds_total"), 0.0);
    const double resident = value_of(families, "process_resident_memory_bytes");
    EXPECT_GT(resident, 1024.0 * 1024.0);
    EXPECT_GE(value_of(families, "process_virtual_memory_bytes"), resident);
    const double open_fds = value_of(families, "process_open_fds");
    EXPECT_GE(open_fds, 1.0);
    EXPECT_GE(value_of(families, "process_max_fds"), open_fds);
    const double start = value_of(families, "process_start_time_seconds");
    EXPECT_LE(start, unix_time_now() + 1.0);
    EXPECT_GT(start, unix_time_now() - 600.0);
    EXPECT_GE(value_of(families, "process_threads"), 1.0);
}

TEST(ProcessCollector, cpu_counter_never_decreases_between_scrapes) {
    const process_collector collector;
    const double first = value_of(collector.Collect(), "process_cpu_seconds_total");
    const double second = value_of(collector.Collect(), "process_cpu_seconds_total");

    EXPECT_GE(second, first);
}

TEST(ProcessCollector, text_format_names_each_sample_exactly_once) {
    const std::string text = prometheus::TextSerializer{}.Serialize(process_collector{}.Collect());
    const auto lines = lines_of(text);

    for (const auto& expected : expected_families) {
        SCOPED_TRACE(expected.name);
        const std::string sample_prefix = std::string(expected.name).append(" ");
        const std::string type_line =
            std::string("# TYPE ").append(expected.name).append(" ").append(expected.type_word);
        EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                                [&](const auto& line) { return line.starts_with(sample_prefix); }),
                  1);
        EXPECT_EQ(std::count(lines.begin(), lines.end(), type_line), 1);
    }
    EXPECT_EQ(text.find("_total_total"), std::string::npos) << text;
}

TEST(ProcessCollector, text_format_passes_promtool_lint) {
    const auto promtool = find_on_path("promtool");
    if (!promtool) {
        GTEST_SKIP() << "promtool is not on PATH; install Prometheus to lint the output";
    }
    const std::string text = prometheus::TextSerializer{}.Serialize(process_collector{}.Collect());
    std::string file_name = (fs::temp_directory_path() / "corostorm-process-metrics-XXXXXX").string();
    const int fd = ::mkstemp(file_name.data());
    ASSERT_GE(fd, 0);
    ::close(fd);
    {
        std::ofstream out(file_name, std::ios::binary);
        out << text;
    }

    const command_result result = run_with_input(*promtool, "check metrics", file_name);
    fs::remove(file_name);

    EXPECT_EQ(result.exit_code, 0) << result.output << "\n--- input ---\n" << text;
    EXPECT_EQ(result.output, "") << "\n--- input ---\n" << text;
}

}  // namespace
}  // namespace corostorm::metrics
