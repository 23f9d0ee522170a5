#include "metrics/revision.h"

namespace corostorm::metrics {

std::string build_revision() { return COROSTORM_REVISION; }

}  // namespace corostorm::metrics
