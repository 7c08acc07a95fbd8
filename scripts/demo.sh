#!/usr/bin/env bash
# The main job, from nothing: set up, start the local WDS and HasData emulators
# and the demo site, run every example spider against them, write the items to
# out/<spider>.jsonl and print a summary checked against the demo site's truth.
#   bash scripts/demo.sh [spider ...]       (default: every example spider)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_setup.sh
mkdir -p out
rm -f out/*.jsonl out/*.log

.venv/bin/python -u -m scrapy_wds.testing serve > out/emulators.env 2> out/emulators.log &
serve_pid=$!
trap 'kill -INT $serve_pid 2>/dev/null; wait $serve_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    [ "$(grep -c '=' out/emulators.env 2>/dev/null)" -ge 4 ] && break
    sleep 0.1
done
set -a; source out/emulators.env; set +a
# The emulator finishes jobs in moments; HasData's polite 10 s poll would only add waiting.
export HASDATA_POLL_INTERVAL="${HASDATA_POLL_INTERVAL:-1}"
echo "Emulators up:"; sed 's/^/  /' out/emulators.env

cd example_project
spiders=("$@")
if [ ${#spiders[@]} -eq 0 ]; then
    mapfile -t spiders < <(../.venv/bin/scrapy list)
fi
for spider in "${spiders[@]}"; do
    echo "Running scrapy crawl $spider ..."
    ../.venv/bin/scrapy crawl "$spider" -O "../out/$spider.jsonl" \
        --logfile "../out/$spider.log" -s LOG_LEVEL=INFO || echo "  $spider failed: see out/$spider.log"
done
cd ..
.venv/bin/python scripts/summarise.py out "${spiders[@]}"
