#!/usr/bin/env bash
# Starts a local Kafka on loopback until Ctrl-C: `scripts/kafka/start.sh` (one node) or `scripts/kafka/start.sh 3`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$root/scripts/kafka/fetch.sh"
exec "$root/node_modules/.bin/node" "$root/scripts/kafka/start.ts" "$@"
