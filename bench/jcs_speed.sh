#!/bin/sh
# bench/jcs_speed.sh - build and run bench/jcs_speed.c against the release
# library (make bench builds it first). JCS_SPEED_SECONDS sets the time per case.
set -e
mkdir -p build/bench
${CC:-cc} -O2 -std=c11 -D_GNU_SOURCE -I. -o build/bench/jcs_speed bench/jcs_speed.c \
	build/libakashi.a $(pkg-config --cflags --libs jansson)
build/bench/jcs_speed "${JCS_SPEED_SECONDS:-2}"
