#!/bin/sh
# The core's lock while the process has one thread: tests/test_lone.c, a
# program of its own (not Criterion's), prints TAP.
exec "${top_builddir:-.}/tests/test_lone"
