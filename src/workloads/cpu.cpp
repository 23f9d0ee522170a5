#include "workloads/cpu.h"

#include "runtime/asio_task.h"

namespace corostorm::workloads {

void asio_cpu_workload::spawn(runtime::task_env env, runtime::worker& w) {
    spawn_asio_yielder(env, w, as_yield_);
}

}  // namespace corostorm::workloads
