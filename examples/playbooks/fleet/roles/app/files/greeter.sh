#!/bin/sh
# A stand-in application: `reload DIR` records the settings it loaded.
set -e
case "$1" in
reload) cp "$2/app.ini" "$2/app.ini.loaded" ;;
*) echo "hello from greeter" ;;
esac
