/*
 * dw.h - elfutils' libdw, loaded when the first frame must be named.
 *
 * libmemlease.so does not link libdw: linked, it would bring libdw,
 * libelf, zlib, libbz2 and liblzma into every process under the preload,
 * and most never name a frame (no rules, no report, or names all found in
 * the cache files).  symbols.c calls libdw through the table that
 * ml_dw_load() makes; the headers give the types.
 */
#ifndef ML_DW_H
#define ML_DW_H

#include <stdbool.h>
#include <stddef.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>

#define ML_DW_SONAME "libdw.so.1"

/* The functions of libdw (and of libelf, which it loads) that symbols.c
 * and capture.c call. */
#define ML_DW_FNS(X) \
	X(dwfl_begin) X(dwfl_report_begin) X(dwfl_report_begin_add) \
	X(dwfl_report_elf) X(dwfl_report_module) X(dwfl_report_end) \
	X(dwfl_module_info) X(dwfl_module_build_id) \
	X(dwfl_module_getsymtab) X(dwfl_module_getsym_info) \
	X(dwfl_module_addrdie) X(dwfl_module_getdwarf) \
	X(dwfl_module_getsrc) X(dwfl_lineinfo) \
	X(dwfl_build_id_find_elf) X(dwfl_build_id_find_debuginfo) \
	X(dwfl_standard_find_debuginfo) \
	X(dwarf_attr) X(dwarf_attr_integrate) X(dwarf_child) \
	X(dwarf_cu_getdwarf) X(dwarf_dieoffset) X(dwarf_filesrc) \
	X(dwarf_formstring) X(dwarf_formudata) X(dwarf_getscopes) \
	X(dwarf_getscopes_die) X(dwarf_getsrcfiles) X(dwarf_hasattr) \
	X(dwarf_haschildren) X(dwarf_haspc) X(dwarf_offdie) X(dwarf_ranges) \
	X(dwarf_siblingof) X(dwarf_tag) \
	X(dwarf_getcfi_elf) X(dwarf_cfi_addrframe) X(dwarf_cfi_end) \
	X(dwarf_frame_info) X(dwarf_frame_cfa) X(dwarf_frame_register) \
	X(elf_version) X(elf_begin) X(elf_cntl) X(elf_end) \
	X(elf_getshdrstrndx) X(elf_nextscn) X(elf_strptr) X(elf_rawdata) \
	X(gelf_getshdr)

struct ml_dw_fns {
#define ML_DW_FIELD(name) __typeof__(name) *name;
	ML_DW_FNS(ML_DW_FIELD)
#undef ML_DW_FIELD
};

/*
 * libdw's functions, loaded (dlopen() of ML_DW_SONAME) the first time;
 * NULL when it cannot be loaded (then the reason, once in the process,
 * in why[size]: the caller says it; a caller that cannot say it passes
 * size 0, and the reason is kept for the next that can) or, this once,
 * out of memory (*again set).  Takes the loader's lock: the caller holds
 * no lock of memlease's.  May allocate: the caller holds the recursion
 * guard.
 */
const struct ml_dw_fns *ml_dw_load(char *why, size_t size, bool *again);

/* fn is called once libdw is loaded, before its functions are used: in a
 * process memlease was attached to, attach.c routes libdw's calls of the
 * malloc family to memlease's (got.h), as it does for the program's own
 * dlopen(). */
void ml_dw_on_load(void (*fn)(void));

#endif /* ML_DW_H */
