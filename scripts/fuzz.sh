#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECONDS each (default 60), then prints the executions and
# crashes of each. Not part of CI's default path: cargo-fuzz needs nightly compiler flags.
#
#   scripts/fuzz.sh [SECONDS]
#
# Crashing inputs land in fuzz/artifacts/<target>/; replay one with
# `RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/crash-…` and shrink it with
# `cargo fuzz tmin <target> <file>`. Corpora and artifacts stay out of git (fuzz/.gitignore).
set -euo pipefail
seconds="${1:-60}"
cd "$(dirname "$0")/.."

# cargo-fuzz passes -Z flags (sanitizer coverage); RUSTC_BOOTSTRAP lets the stable toolchain take them.
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

# Seeds: go-micro's real frames for the frame parser (the target tries every input both as
# requests and as responses, so both directions seed it), hand-written messages for the codecs.
mkdir -p fuzz/corpus/frame fuzz/corpus/json_codec fuzz/artifacts
for dir in tests/go-micro-wire/*/; do
    scenario=$(basename "$dir")
    for side in c2s s2c; do
        if [ -s "$dir/$side.bin" ]; then
            cp "$dir/$side.bin" "fuzz/corpus/frame/$scenario-$side.bin"
        fi
    done
done
cp fuzz/seeds/json_codec/* fuzz/corpus/json_codec/
if [ -d fuzz/seeds/legacy ]; then
    mkdir -p fuzz/corpus/legacy
    cp fuzz/seeds/legacy/* fuzz/corpus/legacy/
fi

summary=()
for target in $(cargo fuzz list); do
    log="fuzz/artifacts/$target.log"
    mkdir -p "fuzz/artifacts/$target"
    before=$(find "fuzz/artifacts/$target" -name 'crash-*' | wc -l)
    echo "== $target: fuzzing for ${seconds}s (log: $log)"
    # Fork mode keeps going after a crash, so one known crash does not hide the rest.
    # Without a sanitizer: micro forbids unsafe code, so panics, hangs and memory blow-ups are
    # what there is to find, and the runs go about twice as fast.
    cargo fuzz run --sanitizer none "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || true
    execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    crashes=$(find "fuzz/artifacts/$target" -name 'crash-*' | wc -l)
    summary+=("$target: ${execs:-0} executions, $((crashes - before)) new crashes ($crashes in fuzz/artifacts/$target)")
    if ! grep -qE '^#[0-9]+' "$log"; then
        echo "   $target did not run; the end of its log:" >&2
        tail -20 "$log" >&2
    fi
done

echo
echo "== summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
