#!/bin/sh
echo "args: $*"
echo "pwd: $(basename "$(pwd)")"

