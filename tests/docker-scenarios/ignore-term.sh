#!/bin/sh
# A program that ignores SIGTERM: only SIGKILL ends it.
trap '' TERM
echo ready
exec sleep 1000
