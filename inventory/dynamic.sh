#!/bin/sh
# Example dynamic inventory for herd: any executable given to -i is run
# with --list and must print JSON on stdout.
#
#   herd inventory -i inventory/dynamic.sh --graph
#
# Groups are lists of hosts or objects with hosts/vars/children;
# `_meta.hostvars` carries host variables (without it, herd asks for
# each host with `--host NAME`, which is much slower).
case "$1" in
--list)
    cat <<'JSON'
{
    "web": {
        "hosts": ["web1.example.com", "web2.example.com"],
        "vars": {"http_port": 8080}
    },
    "db": ["db1.example.com"],
    "prod": {"children": ["web", "db"]},
    "_meta": {
        "hostvars": {
            "web1.example.com": {"ansible_host": "10.0.0.11"},
            "db1.example.com": {"ansible_host": "10.0.0.21"}
        }
    }
}
JSON
    ;;
--host)
    echo '{}'
    ;;
*)
    echo "usage: $0 --list | --host NAME" >&2
    exit 2
    ;;
esac
