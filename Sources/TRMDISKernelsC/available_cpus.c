/* The CPUs this process may use: its affinity mask (taskset, a container's cpuset), which can be fewer than
 * the machine's online CPUs, and within that its cgroup's CPU quota (a container started with --cpus=2, a
 * Kubernetes limit), which leaves the mask alone. The engine's default thread count, and whether its pool
 * may spin: a spinning thread beyond the quota burns the time the others need. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "trmdis_kernels.h"

/* The first line of a file, without its newline; 0 if it cannot be read. */
static int first_line(const char *path, char *line, size_t size) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    const int ok = fgets(line, (int)size, f) != NULL;
    fclose(f);
    if (ok) line[strcspn(line, "\n")] = 0;
    return ok;
}

/* This process's cgroup path for a controller, from /proc/self/cgroup: the cgroup v2 entry ("0::/path") when
 * `controller` is NULL, else the v1 entry that lists it ("4:cpu,cpuacct:/path"). "/" if none is found. */
static void cgroup_path(const char *controller, char *path, size_t size) {
    snprintf(path, size, "/");
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *names = strchr(line, ':'), *where = names ? strchr(names + 1, ':') : NULL;
        if (!where) continue;
        *where++ = 0;
        names++;
        int match = 0;
        if (!controller) {
            match = *names == 0;
        } else {
            char *rest = NULL;  /* strtok_r: a pool may be created on any thread */
            for (char *name = strtok_r(names, ",", &rest); name && !match; name = strtok_r(NULL, ",", &rest)) {
                match = !strcmp(name, controller);
            }
        }
        if (match) {
            snprintf(path, size, "%s", where);
            break;
        }
    }
    fclose(f);
}

/* CPUs from a quota of `quota` microseconds per `period`, rounded up (2.5 CPUs: 3); 0 for no quota. */
static int quota_cpus(double quota, double period) {
    if (quota <= 0 || period <= 0) return 0;
    if (quota / period > 1 << 20) return 0;  /* no CPU count that large: treat as no quota */
    const long long q = (long long)quota, p = (long long)period;
    return (int)((q + p - 1) / p);
}

/* cgroup v2: `dir`/cpu.max, "max 100000" (no quota) or "250000 100000". 1 if the file exists. */
static int v2_quota(const char *dir, int *cpus) {
    char file[4200], line[256];
    snprintf(file, sizeof file, "%s/cpu.max", dir);
    if (!first_line(file, line, sizeof line)) return 0;
    double quota = -1, period = 0;
    *cpus = sscanf(line, "%lf %lf", &quota, &period) == 2 ? quota_cpus(quota, period) : 0;
    return 1;
}

/* cgroup v1: `dir`/cpu.cfs_quota_us (-1: no quota) and cpu.cfs_period_us. 1 if the quota file exists. */
static int v1_quota(const char *dir, int *cpus) {
    char file[4200], line[256];
    snprintf(file, sizeof file, "%s/cpu.cfs_quota_us", dir);
    if (!first_line(file, line, sizeof line)) return 0;
    double quota = -1, period = 0;
    sscanf(line, "%lf", &quota);
    snprintf(file, sizeof file, "%s/cpu.cfs_period_us", dir);
    if (first_line(file, line, sizeof line)) sscanf(line, "%lf", &period);
    *cpus = quota_cpus(quota, period);
    return 1;
}

/* The CPU quota under `root`: the process's own cgroup first, then the hierarchy's root (a container sees
 * its own cgroup there while /proc/self/cgroup may name the host's path); cgroup v2, then v1's cpu
 * controller. 0 if there is none. */
int trmdis_cgroup_cpu_quota(const char *root) {
    char own[2048], dir[4096];
    int cpus = 0;
    cgroup_path(NULL, own, sizeof own);
    snprintf(dir, sizeof dir, "%s%s", root, own);
    if (v2_quota(dir, &cpus) || v2_quota(root, &cpus)) return cpus;
    cgroup_path("cpu", own, sizeof own);
    const char *mounts[] = {"/cpu", "/cpu,cpuacct", "/cpuacct,cpu"};
    for (int m = 0; m < 3; m++) {
        snprintf(dir, sizeof dir, "%s%s%s", root, mounts[m], own);
        if (v1_quota(dir, &cpus)) return cpus;
        snprintf(dir, sizeof dir, "%s%s", root, mounts[m]);
        if (v1_quota(dir, &cpus)) return cpus;
    }
    return 0;
}

int trmdis_available_cpus(void) {
    int count = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) count = CPU_COUNT(&set);
    if (count <= 0) {
        const long online = sysconf(_SC_NPROCESSORS_ONLN);
        count = online > 0 ? (int)online : 1;
    }
    const int quota = trmdis_cgroup_cpu_quota("/sys/fs/cgroup");
    return quota > 0 && quota < count ? quota : count;
}
