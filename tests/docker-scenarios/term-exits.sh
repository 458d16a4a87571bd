#!/bin/sh
# A program that exits (dies) on SIGTERM, as most do.
echo ready
exec sleep 1000
