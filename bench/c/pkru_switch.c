/*
 * The C side of SwitchCurveBench's WRPKRU ratio: a deny and a restore of one key with WRPKRU (ecx = edx = 0),
 * in a tight loop, as ns per deny+restore; the median of 7 runs of 10^7 pairs. Also glibc's pkey_set for
 * the same pair. Exits 2 (and says why) where the kernel did not enable protection keys.
 *
 *   cc -O2 -o pkru_switch bench/c/pkru_switch.c && ./pkru_switch
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static inline unsigned rdpkru(void) {
    unsigned eax, edx, ecx = 0;
    __asm__ volatile(".byte 0x0f,0x01,0xee" : "=a"(eax), "=d"(edx) : "c"(ecx));
    return eax;
}

static inline void wrpkru(unsigned pkru) {
    __asm__ volatile(".byte 0x0f,0x01,0xef" : : "a"(pkru), "c"(0), "d"(0) : "memory");
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096];
    int ospke = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) == 0) {
            ospke = strstr(line, " ospke") != NULL;
            break;
        }
    }
    if (f) fclose(f);
    if (!ospke) {
        fprintf(stderr, "pkru_switch: the kernel has not enabled protection keys (no ospke): WRPKRU would raise SIGILL\n");
        return 2;
    }
    int key = pkey_alloc(0, 0);
    if (key < 0) {
        perror("pkey_alloc");
        return 2;
    }
    unsigned open = rdpkru(), denied = open | (1u << (2 * key));
    const long n = 10000000;
    double wr[7], gl[7];
    for (int r = 0; r < 7; r++) {
        double t0 = now();
        for (long i = 0; i < n; i++) {
            wrpkru(denied);
            wrpkru(open);
        }
        wr[r] = (now() - t0) / n;
        t0 = now();
        for (long i = 0; i < n; i++) {
            pkey_set(key, PKEY_DISABLE_ACCESS);
            pkey_set(key, 0);
        }
        gl[r] = (now() - t0) / n;
    }
    qsort(wr, 7, sizeof wr[0], cmp);
    qsort(gl, 7, sizeof gl[0], cmp);
    pkey_free(key);
    printf("{\"wrpkruDenyRestoreNs\": %.2f, \"pkeySetDenyRestoreNs\": %.2f}\n", wr[3], gl[3]);
    return 0;
}
