#pragma once

#include <string>

namespace corostorm::metrics {

// The git commit this binary was built from, as CMake resolved it at configure
// time (COROSTORM_REVISION, else `git rev-parse HEAD`); "unknown" when it was
// built outside a git checkout without one given.
std::string build_revision();

}  // namespace corostorm::metrics
