#include "metrics/recorder.h"

#include <cmath>
#include <limits>

namespace corostorm::metrics {

double latency_histogram::upper_bound_seconds(std::size_t i) noexcept {
    if (i >= finite_buckets) return std::numeric_limits<double>::infinity();
    return std::ldexp(1e-6, static_cast<int>(i));
}

void latency_snapshot::add(const latency_histogram& h) noexcept {
    for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += h.bucket(i);
    sum_ns += h.sum_ns();
}

std::uint64_t latency_snapshot::count() const noexcept {
    std::uint64_t n = 0;
    for (const auto b : buckets) n += b;
    return n;
}

double latency_snapshot::quantile(double q) const noexcept {
    const std::uint64_t total = count();
    if (total == 0) return std::numeric_limits<double>::quiet_NaN();
    const double rank = q * static_cast<double>(total);
    std::uint64_t below = 0;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
        const std::uint64_t in_bucket = buckets[i];
        if (static_cast<double>(below + in_bucket) >= rank && in_bucket > 0) {
            if (i == latency_histogram::finite_buckets) {
                return latency_histogram::upper_bound_seconds(i - 1);
            }
            const double lower = i == 0 ? 0.0 : latency_histogram::upper_bound_seconds(i - 1);
            const double upper = latency_histogram::upper_bound_seconds(i);
            const double fraction = (rank - static_cast<double>(below)) / static_cast<double>(in_bucket);
            return lower + (upper - lower) * fraction;
        }
        below += in_bucket;
    }
    return latency_histogram::upper_bound_seconds(latency_histogram::finite_buckets - 1);
}

}  // namespace corostorm::metrics
