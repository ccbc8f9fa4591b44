#!/usr/bin/env bash
# make demo: attach to the bundled workload, profile it, and show the results.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/demo
mkdir -p "$out"
py=python3
for v in 3.11.7 3.12.1 3.13.0 3.10.13 3.9.18 3.8.18; do
	if [ -x "/root/.pyenv/versions/$v/bin/python3" ]; then
		py=/root/.pyenv/versions/$v/bin/python3
		break
	fi
done
py=${PYTHON_DEMO:-$py}

fifo=$(mktemp -u) && mkfifo "$fifo"
trap 'exec 3>&- 2>/dev/null; rm -f "$fifo"; kill "$app" 2>/dev/null || true' EXIT
"$py" tests/targets/demo_app.py < "$fifo" > "$out/app.out" &
app=$!
exec 3> "$fifo"
until grep -q READY "$out/app.out"; do sleep 0.1; done

echo "== profiling PID $app ($py tests/targets/demo_app.py)"
./build/pymem-bpf -p "$app" --holders -o "$out/profile.json" -f json -n 8 2> "$out/pymem.err" &
prof=$!
until grep -q attached "$out/pymem.err"; do
	kill -0 "$prof" 2>/dev/null || { cat "$out/pymem.err"; exit 1; }
	sleep 0.1
done
cat "$out/pymem.err"
echo go >&3
until grep -q DONE "$out/app.out"; do sleep 0.2; done
kill -INT "$prof"
wait "$prof"

./build/pymem-bpf report "$out/profile.json" -f folded -o "$out/live.folded"
./build/pymem-bpf report "$out/profile.json" -f html -o "$out/flame.html"
echo "== wrote $out/profile.json, $out/live.folded and the flame graph $out/flame.html"
