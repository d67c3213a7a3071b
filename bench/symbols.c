/*
 * symbols.c - the symbols benchmark: what naming a frame costs.
 *
 * The frames: NFRAMES addresses spread evenly over the C library's code
 * (named from its debug file when libc6-dbg is installed, as reports
 * name them), each given as a return address.  Four figures, per frame,
 * each the median of its runs, each run in a new process (a fork child
 * of this one, which names nothing itself), the configurations taking
 * turns:
 *   1. cold: a process names the frames for the first time, no cache
 *      file: libdw opens the objects and their debug files, reads their
 *      symbols and DWARF.  Target <= 20 us a frame.  Floor beside it:
 *      libdw alone, in a new process, doing the least addr2line -f -i
 *      does per address (dwfl_module_getsrc, dwfl_module_addrdie,
 *      dwarf_getscopes), without a symbol table or anything kept.
 *   2. new frames of objects already read: in a process that named the
 *      frames, NFRAMES others (each half-way between two of them).
 *      Floor: libdw alone, the same.
 *   3. a new process of the same binaries: the names are in the cache
 *      files (written at the exit of an earlier process).
 *   4. cached: the same frames named again in the same process.  Target
 *      <= 1 us a frame.  Floor: dladdr() on each (the C library's
 *      nearest exported symbol: no file name, no line, often wrong).
 *
 * It links libmemlease-internal, not the preload.  A missed target is
 * printed, not failed.
 *
 *   symbols [--quick]
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <glob.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "symbols.h"

#define NFRAMES 400
#define MAX_RUNS 15

static uintptr_t ips[NFRAMES], others[NFRAMES];
static char dir[] = "/tmp/memlease-bench-symbols.XXXXXX";

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* The C library's code, to spread the frames over. */
static int
text_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	uintptr_t *range = data;

	(void)size;
	if (info->dlpi_name == NULL || strstr(info->dlpi_name, "libc.so") ==
	    NULL)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			range[0] = info->dlpi_addr + ph->p_vaddr;
			range[1] = range[0] + ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

/* --- what each child measures: microseconds a frame ------------------- */

/* Name each frame of v; microseconds a frame. */
static double
name_each(const uintptr_t *v)
{
	struct ml_symbols_addr a;
	double t0 = now_us();

	for (int i = 0; i < NFRAMES; i++)
		ml_symbols_get(v[i], &a);
	return (now_us() - t0) / NFRAMES;
}

static double
name_all(void)
{
	return name_each(ips);
}

/* 2: new frames, the objects read */
static double
cold_warm_objects(void)
{
	ml_symbols_cache(NULL);
	name_all();
	return name_each(others);
}

/* 1: no cache file (a folder of none, left empty) */
static double
cold(void)
{
	ml_symbols_cache(NULL);
	return name_all();
}

/* 2: the cache files of an earlier process (the parent's first child) */
static double
from_files(void)
{
	ml_symbols_cache(dir);
	return name_all();
}

/* the earlier process, whose names go to the files */
static double
fill_files(void)
{
	ml_symbols_cache(dir);
	double t = name_all();
	ml_symbols_save();
	return t;
}

/* 3: named again in the same process */
static double
cached(void)
{
	ml_symbols_cache(NULL);
	name_all();
	return name_all();
}

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

/* libdw alone on each of v[n], lines counted */
static void
libdw_each(Dwfl *dwfl, const uintptr_t *v, int *lines)
{
	for (int i = 0; i < NFRAMES; i++) {
		Dwarf_Addr pc = v[i] - 1, bias;
		Dwfl_Module *m = dwfl_addrmodule(dwfl, pc);
		Dwarf_Die *cu, *scopes = NULL;
		if (m == NULL)
			continue;
		*lines += dwfl_module_getsrc(m, pc) != NULL;
		if ((cu = dwfl_module_addrdie(m, pc, &bias)) != NULL &&
		    dwarf_getscopes(cu, pc - bias, &scopes) > 0)
			free(scopes);
	}
}

static Dwfl *
libdw_begin(void)
{
	Dwfl *dwfl = dwfl_begin(&callbacks);

	dwfl_report_begin(dwfl);
	dwfl_linux_proc_report(dwfl, getpid());
	dwfl_report_end(dwfl, NULL, NULL);
	return dwfl;
}

/* floor of 1: libdw alone */
static double
libdw_alone(void)
{
	double t0 = now_us();
	Dwfl *dwfl = libdw_begin();
	int lines = 0;

	libdw_each(dwfl, ips, &lines);
	double t = (now_us() - t0) / NFRAMES;
	dwfl_end(dwfl);
	return lines > 0 ? t : -1;
}

/* floor of 2 */
static double
libdw_alone_warm(void)
{
	Dwfl *dwfl = libdw_begin();
	int lines = 0;

	libdw_each(dwfl, ips, &lines);
	double t0 = now_us();
	libdw_each(dwfl, others, &lines);
	double t = (now_us() - t0) / NFRAMES;
	dwfl_end(dwfl);
	return lines > 0 ? t : -1;
}

/* floor of 3: dladdr() */
static double
dladdr_all(void)
{
	Dl_info dl;
	int named = 0;

	dladdr((void *)ips[0], &dl);     /* its first call sets things up */
	double t0 = now_us();
	for (int i = 0; i < NFRAMES; i++)
		named += dladdr((void *)(ips[i] - 1), &dl) != 0;
	return named > 0 ? (now_us() - t0) / NFRAMES : -1;
}

/* The cache files of the folder removed: the next run is cold again. */
static void
drop_files(void)
{
	char pattern[sizeof dir + 16];
	glob_t g;

	snprintf(pattern, sizeof pattern, "%s/symbols-*", dir);
	if (glob(pattern, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			unlink(g.gl_pathv[i]);
		globfree(&g);
	}
}

/* Run fn in a fork child; its figure, or -1 if it failed. */
static double
in_child(double (*fn)(void))
{
	int p[2];
	double t = -1;

	if (pipe(p) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		t = fn();
		_exit(write(p[1], &t, sizeof t) == sizeof t ? 0 : 1);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &t, sizeof t) != sizeof t)
		t = -1;
	close(p[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return t;
}

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, n, sizeof *v, dbl_cmp);
	return v[n / 2];
}

static void
row(const char *what, double us, double floor_us, const char *floor_name,
    const char *target)
{
	printf("  %-44s %9.2f us", what, us);
	if (floor_us > 0)
		printf("   %-14s %8.2f us  %6.2fx", floor_name, floor_us,
		    us / floor_us);
	else
		printf("   %-14s %8s     %7s", "", "", "");
	printf("   %s\n", target);
}

static const char *
verdict(double us, double max, char *buf, size_t len)
{
	snprintf(buf, len, "<= %g us: %s", max, us <= max ? "met" : "MISSED");
	return buf;
}

int
main(int argc, char **argv)
{
	int runs = argc > 1 && strcmp(argv[1], "--quick") == 0 ? 3 : 7;
	uintptr_t range[2] = { 0, 0 };
	double c[MAX_RUNS], w[MAX_RUNS], f[MAX_RUNS], k[MAX_RUNS],
	    lf[MAX_RUNS], lw[MAX_RUNS], df[MAX_RUNS];
	char b1[64], b2[64];

	dl_iterate_phdr(text_cb, range);
	if (range[1] <= range[0] || mkdtemp(dir) == NULL) {
		fprintf(stderr, "symbols: no C library's code, or no folder\n");
		return 1;
	}
	uintptr_t step = (range[1] - range[0]) / NFRAMES;
	for (int i = 0; i < NFRAMES; i++) {
		ips[i] = range[0] + step * i + 17;
		others[i] = ips[i] + step / 2;
	}
	for (int r = 0; r < runs; r++) {
		lf[r] = in_child(libdw_alone);
		c[r] = in_child(cold);
		lw[r] = in_child(libdw_alone_warm);
		w[r] = in_child(cold_warm_objects);
		if (in_child(fill_files) < 0)
			return 1;
		f[r] = in_child(from_files);
		k[r] = in_child(cached);
		df[r] = in_child(dladdr_all);
		drop_files();
		if (c[r] < 0 || w[r] < 0 || f[r] < 0 || k[r] < 0)
			return 1;
	}
	rmdir(dir);
	double mc = median(c, runs), mf = median(f, runs), mk = median(k, runs);
	double ml = median(lf, runs), md = median(df, runs);
	double mw = median(w, runs), mlw = median(lw, runs);
	printf("bench/symbols: naming %d frames of the C library, per frame, "
	    "median of %d runs (each a new process)\n", NFRAMES, runs);
	printf("  %-44s %12s   %-14s %11s  %7s   %s\n", "", "memlease",
	    "floor", "", "ratio", "target");
	row("cold: first time, no cache file", mc, ml, "libdw alone",
	    verdict(mc, 20, b1, sizeof b1));
	row("new frames, their objects read before", mw, mlw, "libdw alone",
	    verdict(mw, 20, b2, sizeof b2));
	row("new process, names in the cache files", mf, ml, "libdw alone",
	    verdict(mf, 20, b2, sizeof b2));
	row("cached: named before in this process", mk, md, "dladdr()",
	    verdict(mk, 1, b1, sizeof b1));
	return 0;
}
