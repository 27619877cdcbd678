/* The CPUs this process may run on: its affinity mask (taskset, a container's cpuset), which can be fewer
 * than the machine's online CPUs. The engine's default thread count, and whether its pool may spin. */
#define _GNU_SOURCE
#include <sched.h>
#include <unistd.h>

#include "trmdis_kernels.h"

int trmdis_available_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        const int count = CPU_COUNT(&set);
        if (count > 0) return count;
    }
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}
