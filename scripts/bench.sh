#!/usr/bin/env bash
# Benchmarks, side by side on this machine, everything on 127.0.0.1 (README "Benchmarks";
# BENCHMARKS.md holds the latest results and the method).
#
#   scripts/bench.sh            full run (about 7 minutes)
#   scripts/bench.sh --smoke    short run of the debug build that keeps the script working (CI);
#                               its numbers mean nothing
#
# 1. cold CLI lookups of a 5-platform index through a TCP proxy adding 10 ms each way in
#    front of the real registry: mquery vs skopeo inspect --raw vs docker manifest inspect,
#    median of alternating runs, and the registry requests each made;
# 1b. a stack: `mquery check` of a Compose file naming 50 distinct images on the same proxy,
#    beside the slowest single cold lookup of those images and a shell loop of skopeo;
# 2. cached HTTP throughput and p50/p99 of /v1/inspect and /v1/badge with wrk, beside nginx
#    serving the same bytes as a static file;
# 3. process start to first answered request, stripped binary sizes, peak RSS under load;
# 4. soak: cached lookups for minutes with zero errors and flat memory;
# 5. burst: distinct uncached images against a fake registry, within the concurrency cap,
#    without memory growth;
# 6. Lambda, under cargo-lambda's Runtime API emulator: init (spawn to the first Runtime API
#    `next` request) and first-invocation latency beside a hello-world lambda_http function
#    of the same profile, and peak RSS for a cached answer and for the largest indexes the
#    client's limits let through, against template.yaml's MemorySize.
# Fails if wrk saw any error, the concurrency cap was exceeded, memory kept growing, or a
# Lambda invocation gave an unexpected status. Speed is reported, never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

smoke=false
[ "${1:-}" = "--smoke" ] && smoke=true
if $smoke; then
  cold_runs=3 wrk_secs=3 soak_secs=6 burst_secs=3 startup_runs=3 lambda_runs=3
else
  cold_runs=9 wrk_secs=20 soak_secs=180 burst_secs=30 startup_runs=20 lambda_runs=20
fi

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v skopeo >/dev/null || need+=(skopeo)
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
apt_install bench "${need[@]}"

# the smoke run reuses the test command's debug build: it keeps this script working and
# asserts no speed, so an optimized build of its own would only cost CI minutes
profile=release
$smoke && profile=dev
echo "bench: building $profile binaries"
cargo build --profile "$profile" --locked -q --bin mquery --bin mquery-lambda
cargo build --profile "$profile" --locked -q -p mquery-tests --bin mquery-bench-tools
cargo build --profile "$profile" --locked -q -p mquery-lambda --example hello
[ -x .cache/venv/bin/cargo-lambda ] || { echo "bench: cargo-lambda missing: running scripts/setup-test-env.sh"; scripts/setup-test-env.sh; }
bin=target/$profile
[ "$profile" = dev ] && bin=target/debug
tools=$bin/mquery-bench-tools

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 500); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.02; done; echo "bench: port $1 never opened" >&2; return 1; }
now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
# CPU time a process has used, in ms (user + system, in clock ticks of 10 ms)
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$1/stat"; }
report=target/bench/report.md
mkdir -p target/bench
: > "$report"
say() { echo "$*" | tee -a "$report"; }
# the report's Markdown: a section's heading, a table's header, a table's row, a paragraph
section() { say "## $1"; say ""; }
columns() {
  local header="|" rule="|" column
  for column in "$@"; do header+=" $column |"; rule+="---|"; done
  say "$header"
  say "$rule"
}
row() {
  local line="|" cell
  for cell in "$@"; do line+=" $cell |"; done
  say "$line"
}
paragraph() { say "$1"; say ""; }

# --- the real registry, its access log counting requests ------------------------------
registry_port=$(free_port)
cat > "$tmp/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $tmp/registry
http:
  addr: 127.0.0.1:$registry_port
  secret: bench
YML
/usr/bin/docker-registry serve "$tmp/registry.yml" > "$tmp/access.log" 2>/dev/null &
registry_pid=$!
pids+=($registry_pid)
wait_port "$registry_port"
$tools push-fixtures "http://127.0.0.1:$registry_port" acme/app v1 > /dev/null
requests() { grep -cE '"(GET|HEAD) /v2/' "$tmp/access.log" || true; }

proxy_port=$(free_port)
$tools latency-proxy "$proxy_port" "$registry_port" 10 &
pids+=($!)
wait_port "$proxy_port"
image="127.0.0.1:$proxy_port/acme/app:v1"

# --- 1. cold CLI lookups ---------------------------------------------------------------
export DOCKER_CONFIG="$tmp/docker"
mkdir -p "$DOCKER_CONFIG"
tools_list=(mquery skopeo docker)
command -v docker >/dev/null || { tools_list=(mquery skopeo); echo "bench: docker client not installed: not compared"; }
run_tool() {
  case "$1" in
    mquery) MQUERY_INSECURE_REGISTRIES="127.0.0.1:$proxy_port" $bin/mquery "$image" ;;
    skopeo) skopeo inspect --raw --tls-verify=false "docker://$image" ;;
    docker) docker manifest inspect --insecure "$image" ;;
  esac
}
for tool in "${tools_list[@]}"; do : > "$tmp/cold-$tool"; : > "$tmp/reqs-$tool"; done
for i in $(seq "$cold_runs"); do
  # alternate the order so no tool always runs first
  order=("${tools_list[@]}")
  [ $((i % 2)) -eq 0 ] && order=($(printf '%s\n' "${tools_list[@]}" | tac))
  for tool in "${order[@]}"; do
    before=$(requests)
    start=$(now_ns)
    run_tool "$tool" > /dev/null
    end=$(now_ns)
    sleep 0.2
    echo $(( (end - start) / 1000 )) >> "$tmp/cold-$tool"
    echo $(( $(requests) - before )) >> "$tmp/reqs-$tool"
  done
done
section "Cold lookups (5-platform index, 10 ms each way, median of $cold_runs alternating runs)"
columns tool median "vs mquery" "registry requests"
mquery_us=$(median < "$tmp/cold-mquery")
for tool in "${tools_list[@]}"; do
  us=$(median < "$tmp/cold-$tool")
  reqs=$(median < "$tmp/reqs-$tool")
  row "$tool" "$(awk -v u="$us" 'BEGIN{printf "%.1f ms", u/1000}')" "$(awk -v a="$us" -v b="$mquery_us" 'BEGIN{printf "%.2fx", a/b}')" "$reqs"
done
say ""

# --- 1b. a stack: mquery check of a Compose file naming 50 distinct images -------------
# Against the real registry behind the latency proxy, and against the fake registry (whose
# serving costs next to nothing) behind a second proxy of the same delay: on two shared cores
# the real registry's own work for 50 manifests at once is part of the check's time, and
# the fake's row shows what is mquery's. Each single image is looked up cold once per round;
# the ratio is the check's median over the slowest image's median.
stack_images=50
fake_stack_port=$(free_port)
$tools fake-registry "$fake_stack_port" 0 &
pids+=($!)
wait_port "$fake_stack_port"
fake_proxy_port=$(free_port)
$tools latency-proxy "$fake_proxy_port" "$fake_stack_port" 10 &
pids+=($!)
wait_port "$fake_proxy_port"
for i in $(seq "$stack_images"); do
  $tools push-fixtures "http://127.0.0.1:$registry_port" "acme/stack$i" v1 > /dev/null
done
declare -A stack_host=([real]="127.0.0.1:$proxy_port" [fake]="127.0.0.1:$fake_proxy_port")
export MQUERY_INSECURE_REGISTRIES="127.0.0.1:$proxy_port,127.0.0.1:$fake_proxy_port"
for kind in real fake; do
  host=${stack_host[$kind]}
  { echo "name: stack"; echo "services:"
    for i in $(seq "$stack_images"); do printf '  s%s:\n    image: %s/acme/stack%s:v1\n' "$i" "$host" "$i"; done
  } > "$tmp/compose-$kind.yaml"
  : > "$tmp/check-$kind"
  : > "$tmp/check-cpu-$kind"
  for i in $(seq "$stack_images"); do : > "$tmp/single-$kind-$i"; done
done
for round in $(seq "$cold_runs"); do
  for kind in real fake; do
    host=${stack_host[$kind]}
    # as in section 1, each measurement starts once the last one's work has settled (the
    # real registry's garbage collection after 50 requests runs on the same two cores)
    sleep 0.2
    before=$(requests)
    cpu_before=$(cpu_ms "$registry_pid")
    start=$(now_ns)
    $bin/mquery check --platform linux/arm64 "$tmp/compose-$kind.yaml" > "$tmp/check-out" \
      || { echo "bench: mquery check failed:"; cat "$tmp/check-out"; exit 1; } >&2
    end=$(now_ns)
    echo $(( (end - start) / 1000 )) >> "$tmp/check-$kind"
    if [ "$kind" = real ]; then
      sleep 0.2
      echo $(( $(requests) - before )) > "$tmp/check-reqs"
      echo $(( $(cpu_ms "$registry_pid") - cpu_before )) >> "$tmp/check-cpu-real"
    fi
    for i in $(seq "$stack_images"); do
      sleep 0.05
      start=$(now_ns)
      $bin/mquery "$host/acme/stack$i:v1" > /dev/null
      end=$(now_ns)
      echo $(( (end - start) / 1000 )) >> "$tmp/single-$kind-$i"
    done
  done
done
# skopeo, one image after the other: what a shell loop around a one-image tool costs
skopeo_loops=$(( cold_runs < 3 ? cold_runs : 3 ))
: > "$tmp/skopeo-loop"
for _ in $(seq "$skopeo_loops"); do
  start=$(now_ns)
  for i in $(seq "$stack_images"); do
    skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$proxy_port/acme/stack$i:v1" > /dev/null
  done
  end=$(now_ns)
  echo $(( (end - start) / 1000 )) >> "$tmp/skopeo-loop"
done
unset MQUERY_INSECURE_REGISTRIES
ms() { awk -v u="$1" 'BEGIN{printf "%.1f ms", u/1000}'; }
section "A stack: mquery check of a Compose file naming $stack_images distinct images (10 ms each way, median of $cold_runs rounds)"
columns registry "mquery check" "single lookup, median" "single lookup, slowest image" "check / slowest single"
for kind in real fake; do
  check_us=$(median < "$tmp/check-$kind")
  for i in $(seq "$stack_images"); do median < "$tmp/single-$kind-$i"; done > "$tmp/singles-$kind"
  single_med=$(median < "$tmp/singles-$kind")
  single_max=$(sort -n "$tmp/singles-$kind" | tail -1)
  label="docker-registry (real)"; [ "$kind" = fake ] && label="fake (serving cost ~0)"
  row "$label" "$(ms "$check_us")" "$(ms "$single_med")" "$(ms "$single_max")" \
    "$(awk -v a="$check_us" -v b="$single_max" 'BEGIN{printf "%.2fx", a/b}')"
  [ "$kind" = real ] && real_check_us=$check_us
done
say ""
skopeo_us=$(median < "$tmp/skopeo-loop")
paragraph "The check sent $(cat "$tmp/check-reqs") requests to the real registry for $stack_images images, which spent $(median < "$tmp/check-cpu-real") ms of CPU answering them (median; on the same two cores as mquery and the proxy). A shell loop of \`skopeo inspect --raw\` over the same $stack_images images (real registry, median of $skopeo_loops loops): $(ms "$skopeo_us"), $(awk -v a="$skopeo_us" -v b="$real_check_us" 'BEGIN{printf "%.1fx", a/b}') the check."

# --- 2. cached throughput beside nginx ------------------------------------------------
service_port=$(free_port)
MQUERY_LISTEN="127.0.0.1:$service_port" MQUERY_INSECURE_REGISTRIES="127.0.0.1:$registry_port" RUST_LOG=error \
  $bin/mquery-lambda &
service_pid=$!
pids+=($service_pid)
wait_port "$service_port"
direct="127.0.0.1:$registry_port/acme/app:v1"
inspect_url="http://127.0.0.1:$service_port/v1/inspect?image=$direct"
badge_url="http://127.0.0.1:$service_port/v1/badge?image=$direct"
curl -sf "$inspect_url" > /dev/null   # warm the cache
mkdir -p "$tmp/static"
curl -sf "$inspect_url" > "$tmp/static/inspect.json"
# nginx workers drop root: let them read the file
chmod 755 "$tmp" "$tmp/static"
chmod 644 "$tmp/static/inspect.json"
nginx_port=$(free_port)
cat > "$tmp/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$nginx_port;
    location / { root $tmp/static; default_type application/json; }
  }
}
NGINX
/usr/sbin/nginx -c "$tmp/nginx.conf" -p "$tmp" &
pids+=($!)
wait_port "$nginx_port"

# throughput: saturate (wrk's two threads share the two cores with the server)
bench_wrk() { wrk -t2 -c50 -d"${wrk_secs}s" --latency "$1" | python3 scripts/wrk_parse.py; }
# latency: a moderate load (one wrk thread, 8 connections), where p99 measures the server
bench_latency() { wrk -t1 -c8 -d"${wrk_secs}s" --latency "$1" | python3 scripts/wrk_parse.py; }
nginx_url="http://127.0.0.1:$nginx_port/inspect.json"
read -r nginx_rps nginx_p50 nginx_p99 nginx_err <<< "$(bench_wrk "$nginx_url")"
read -r inspect_rps inspect_p50 inspect_p99 inspect_err <<< "$(bench_wrk "$inspect_url")"
read -r badge_rps badge_p50 badge_p99 badge_err <<< "$(bench_wrk "$badge_url")"
read -r nginx_lrps nginx_lp50 nginx_lp99 nginx_lerr <<< "$(bench_latency "$nginx_url")"
read -r inspect_lrps inspect_lp50 inspect_lp99 inspect_lerr <<< "$(bench_latency "$inspect_url")"
read -r badge_lrps badge_lp50 badge_lp99 badge_lerr <<< "$(bench_latency "$badge_url")"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }
section "Cached HTTP, ${wrk_secs}s per run"
columns target "req/s (wrk -t2 -c50)" "vs nginx" "p50 / p99 there" "req/s (wrk -t1 -c8)" "p50 / p99 there" errors
say "| nginx static file (same bytes) | $nginx_rps | 1.00x | $nginx_p50 / $nginx_p99 ms | $nginx_lrps | $nginx_lp50 / $nginx_lp99 ms | $((nginx_err + nginx_lerr)) |"
say "| /v1/inspect | $inspect_rps | $(ratio "$inspect_rps" "$nginx_rps") | $inspect_p50 / $inspect_p99 ms | $inspect_lrps | $inspect_lp50 / $inspect_lp99 ms | $((inspect_err + inspect_lerr)) |"
say "| /v1/badge | $badge_rps | $(ratio "$badge_rps" "$nginx_rps") | $badge_p50 / $badge_p99 ms | $badge_lrps | $badge_lp50 / $badge_lp99 ms | $((badge_err + badge_lerr)) |"
say ""

# --- 3. start-up, sizes, peak RSS -----------------------------------------------------
read -r start_min start_med start_max <<< "$($tools startup $bin/mquery-lambda "$startup_runs")"
section "Start-up, size, memory"
columns measure value
say "| start to first answered request (min / median / max of $startup_runs) | $start_min / $start_med / $start_max ms |"
say "| mquery-lambda stripped (x86_64) | $(stat -c %s $bin/mquery-lambda | awk '{printf "%.1f MB", $1/1e6}') |"
say "| mquery stripped (x86_64) | $(stat -c %s $bin/mquery | awk '{printf "%.1f MB", $1/1e6}') |"
if [ -f target/lambda/mquery-lambda/bootstrap ]; then
  say "| Lambda bootstrap (arm64, cargo lambda) | $(stat -c %s target/lambda/mquery-lambda/bootstrap | awk '{printf "%.1f MB", $1/1e6}') |"
fi
say "| mquery-lambda peak RSS after the wrk runs | $(( $(hwm_kb $service_pid) / 1024 )) MB |"
say ""

# --- 4. soak: cached lookups, zero errors, flat memory --------------------------------
samples="$tmp/rss"
: > "$samples"
( while kill -0 "$service_pid" 2>/dev/null; do rss_kb "$service_pid" >> "$samples"; sleep 1; done ) &
sampler=$!
pids+=($sampler)
read -r soak_rps soak_p50 soak_p99 soak_err <<< "$(wrk -t2 -c50 -d"${soak_secs}s" --latency "$inspect_url" | python3 scripts/wrk_parse.py)"
kill "$sampler" 2>/dev/null || true
rss_first=$(head -n 3 "$samples" | sort -n | tail -n 1)
rss_last=$(tail -n 3 "$samples" | sort -n | tail -n 1)
rss_max=$(sort -n "$samples" | tail -n 1)
section "Soak: cached /v1/inspect for ${soak_secs}s"
paragraph "$soak_rps requests/s, p50 $soak_p50 ms, p99 $soak_p99 ms, errors $soak_err; RSS $((rss_first / 1024)) MB at the start, $((rss_last / 1024)) MB at the end, $((rss_max / 1024)) MB at most."

# --- 5. burst: distinct uncached images against a fake registry -----------------------
fake_port=$(free_port)
$tools fake-registry "$fake_port" 20 &
pids+=($!)
wait_port "$fake_port"
burst_service_port=$(free_port)
# a small memory cache, so its bound is reached within the run and a plateau shows
MQUERY_LISTEN="127.0.0.1:$burst_service_port" MQUERY_INSECURE_REGISTRIES="127.0.0.1:$fake_port" \
  MQUERY_CACHE_MEMORY_MB=4 RUST_LOG=error $bin/mquery-lambda &
burst_pid=$!
pids+=($burst_pid)
wait_port "$burst_service_port"
# every request names an image never asked for before (per thread, per burst)
cat > "$tmp/burst.lua" <<LUA
counter = 0
math.randomseed(os.time())
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", tostring(threads) .. "x" .. tostring(math.random(1, 1000000000)))
end
request = function()
  counter = counter + 1
  return wrk.format("GET", "/v1/inspect?image=127.0.0.1:$fake_port/burst/t" .. tid .. "-" .. counter .. ":v1")
end
LUA
# wrk abandons the requests in flight when it stops; the pause lets those end before the
# next measurement, so the fake registry's in-flight peak counts only live requests
burst() {
  wrk -t2 -c200 -d"${burst_secs}s" --latency -s "$tmp/burst.lua" "http://127.0.0.1:$burst_service_port" | python3 scripts/wrk_parse.py
  sleep 1
}
read -r b1_rps b1_p50 b1_p99 b1_err <<< "$(burst)"
rss_after_1=$(rss_kb $burst_pid)
read -r b2_rps b2_p50 b2_p99 b2_err <<< "$(burst)"
rss_after_2=$(rss_kb $burst_pid)
read -r b3_rps b3_p50 b3_p99 b3_err <<< "$(burst)"
rss_after_3=$(rss_kb $burst_pid)
stats=$(curl -sf "http://127.0.0.1:$fake_port/stats")
max_in_flight=$(echo "$stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_in_flight"])')
fake_requests=$(echo "$stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
section "Burst: distinct uncached images (wrk -c200, 3 x ${burst_secs}s, registry latency 20 ms, 4 MB memory cache)"
paragraph "$b1_rps, $b2_rps and $b3_rps lookups/s, p99 $b1_p99 / $b2_p99 / $b3_p99 ms, errors $((b1_err + b2_err + b3_err)); $fake_requests registry requests, at most $max_in_flight at once (cap 64); RSS $((rss_after_1 / 1024)), $((rss_after_2 / 1024)) and $((rss_after_3 / 1024)) MB after each burst."

# --- 6. Lambda under cargo-lambda's Runtime API emulator -------------------------------
# init = spawn to the function's first GET .../runtime/invocation/next (a proxy in front of
# the emulator sees it); first invocation = posting an HTTP API v2 event to its answer.
# The four functions start in turns, lambda_runs times each.
hello=$bin/examples/hello
table_env=(MQUERY_TABLE=mquery-cache AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:9 AWS_REGION=us-east-1
  AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench)
mapfile -t cold < <($tools lambda-cold "$lambda_runs" \
  -- / "$hello" \
  -- /healthz "$bin/mquery-lambda" \
  -- /healthz "$bin/mquery-lambda" "${table_env[@]}" \
  -- "/v1/inspect?image=$direct" "$bin/mquery-lambda" "MQUERY_INSECURE_REGISTRIES=127.0.0.1:$registry_port")
[ "${#cold[@]}" -eq 4 ] || { echo "bench: lambda-cold failed" >&2; exit 1; }
read -r h_imin h_imed h_imax h_fmin h_fmed h_fmax <<< "${cold[0]}"
read -r m_imin m_imed m_imax m_fmin m_fmed m_fmax <<< "${cold[1]}"
read -r t_imin t_imed t_imax t_fmin t_fmed t_fmax <<< "${cold[2]}"
read -r _ _ _ i_fmin i_fmed i_fmax <<< "${cold[3]}"
init_ratio=$(ratio "$m_imed" "$h_imed")
table_ratio=$(ratio "$t_imed" "$h_imed")
init_met=no; awk -v r="${init_ratio%x}" 'BEGIN{exit !(r <= 1.2)}' && init_met=yes
big_port=$(free_port)
$tools big-index-registry "$big_port" &
pids+=($!)
wait_port "$big_port"
big_stats=$(curl -sf "http://127.0.0.1:$big_port/stats")
annotated_mib=$(echo "$big_stats" | python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["annotated"]["bytes"]/1048576))')
empty_entries=$(echo "$big_stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["empty"]["entries"])')
lambda_env=("MQUERY_INSECURE_REGISTRIES=127.0.0.1:$registry_port,127.0.0.1:$big_port")
read -r s_hello rss_hello <<< "$($tools lambda-rss "$hello" /)"
read -r s_cached rss_cached <<< "$($tools lambda-rss "$bin/mquery-lambda" "${lambda_env[@]}" "/v1/inspect?image=$direct" "/v1/inspect?image=$direct")"
read -r s_big rss_big <<< "$($tools lambda-rss "$bin/mquery-lambda" "${lambda_env[@]}" "/v1/inspect?image=127.0.0.1:$big_port/big/annotated:v1")"
read -r s_empty rss_empty <<< "$($tools lambda-rss "$bin/mquery-lambda" "${lambda_env[@]}" "/v1/inspect?image=127.0.0.1:$big_port/big/empty:v1")"
memory_size=$(awk '/^  MemorySize:/ {f=1} f && /Default:/ {print $2; exit}' template.yaml)
mb() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
share() { awk -v k="$1" -v m="$memory_size" 'BEGIN{printf "%.0f%%", 100*k/1024/m}'; }
section "Lambda under cargo-lambda's Runtime API emulator ($lambda_runs cold starts each, in turns)"
columns "function (event)" "init: spawn to first \`next\`, min / median / max" "first invocation, min / median / max"
say "| hello-world lambda_http (\`/\`) | $h_imin / $h_imed / $h_imax ms | $h_fmin / $h_fmed / $h_fmax ms |"
say "| mquery-lambda, memory only (\`/healthz\`) | $m_imin / $m_imed / $m_imax ms | $m_fmin / $m_fmed / $m_fmax ms |"
say "| mquery-lambda, DynamoDB table configured (\`/healthz\`) | $t_imin / $t_imed / $t_imax ms | $t_fmin / $t_fmed / $t_fmax ms |"
say "| mquery-lambda, memory only (\`/v1/inspect\`, one registry GET) | | $i_fmin / $i_fmed / $i_fmax ms |"
say ""
paragraph "Init, median vs hello-world: $init_ratio memory only (goal <= 1.20x: $init_met), $table_ratio with the table configured."
columns "peak RSS (VmHWM), Lambda mode" status MB "of MemorySize ($memory_size MB)"
# a row of this table: the case, its status, its peak RSS in KiB
rss_row() { row "$1" "$2" "$(mb "$3")" "$(share "$3")"; }
rss_row "hello-world lambda_http, one event" "$s_hello" "$rss_hello"
rss_row "mquery-lambda, a cached answer (the same event twice)" "$s_cached" "$rss_cached"
rss_row "mquery-lambda, the largest index allowed (1024 annotated entries, $annotated_mib MiB)" "$s_big" "$rss_big"
rss_row "mquery-lambda, 4 MiB of \`{}\` entries ($empty_entries, refused: over 1024)" "$s_empty" "$rss_empty"
say ""

failed=0
[ "$s_hello" = "200" ] && [ "$s_cached" = "200,200" ] && [ "$s_big" = "200" ] && [ "$s_empty" = "502" ] \
  || { echo "bench: unexpected Lambda statuses: $s_hello / $s_cached / $s_big / $s_empty" >&2; failed=1; }
for e in "$nginx_err" "$inspect_err" "$badge_err" "$inspect_lerr" "$badge_lerr" "$soak_err" "$b1_err" "$b2_err" "$b3_err"; do
  [ "$e" = "0" ] || { echo "bench: wrk saw errors" >&2; failed=1; }
done
[ "$max_in_flight" -le 64 ] || { echo "bench: $max_in_flight registry requests at once, over the cap of 64" >&2; failed=1; }
# memory is flat if the end of the soak is within 20% (+2 MB) of its start, and the third
# burst grew RSS by less than 20% (+2 MB) over the second (the memory cache is bounded)
awk -v a="$rss_first" -v b="$rss_last" 'BEGIN{exit !(b <= a*1.2 + 2048)}' || { echo "bench: RSS grew during the soak" >&2; failed=1; }
awk -v a="$rss_after_2" -v b="$rss_after_3" 'BEGIN{exit !(b <= a*1.2 + 2048)}' || { echo "bench: RSS grew between bursts" >&2; failed=1; }
echo "bench: report in $report"
exit "$failed"
