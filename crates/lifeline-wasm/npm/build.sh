#!/usr/bin/env bash
# Builds the npm package @lifeline/verifier into dist/npm/ (run from the repository root,
# or through `make npm`). Needs wasm-bindgen (same version as the crate) and wasm-opt from
# npm's binaryen: `.ci/setup` installs both.
#
#   dist/npm/node/   wasm-bindgen --target nodejs (CommonJS; loads the .wasm synchronously)
#   dist/npm/web/    wasm-bindgen --target web (ES module: default init() or initSync({ module }))
#   dist/npm/lite/   the same two for the verify-only entry (crates/lifeline-wasm-lite)
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
out=dist/npm
here=crates/lifeline-wasm/npm
profile=wasm-release
built=${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/$profile

say() { printf '\033[1mnpm:\033[0m %s\n' "$*"; }

say "cargo build --profile $profile --target wasm32-unknown-unknown"
cargo build --locked -q -p lifeline-wasm -p lifeline-wasm-lite --target wasm32-unknown-unknown --profile "$profile"

rm -rf "$out" && mkdir -p "$out"
for crate in lifeline_wasm lifeline_wasm_lite; do
  dir=$out; [ "$crate" = lifeline_wasm_lite ] && dir=$out/lite
  for target in node web; do
    flavour=$target; [ "$target" = node ] && flavour=nodejs
    say "wasm-bindgen --target $flavour ($crate)"
    wasm-bindgen --target "$flavour" --out-dir "$dir/$target" "$built/$crate.wasm"
    say "wasm-opt -O3 ($crate, $target)"
    wasm-opt -O3 "$dir/$target/${crate}_bg.wasm" -o "$dir/$target/${crate}_bg.wasm"
  done
  printf '{ "type": "commonjs" }\n' > "$dir/node/package.json"
done
# (Each CommonJS build lives in a "type": "module" package: its own package.json above.)
# The glue's JS snippets (wasm-bindgen inline_js: helpers shipped as files, so no code is
# compiled from strings at run time) are ES modules; the CommonJS build requires them, so
# its copies export CommonJS (`export function f` -> `exports.f = function f`).
for snippet in "$out"/node/snippets/*/*.js; do
  [ -e "$snippet" ] || continue
  sed -E -i 's/^export function ([A-Za-z0-9_]+)/exports.\1 = function \1/' "$snippet"
  if grep -q '^export ' "$snippet"; then
    echo "npm: $snippet has an export the CommonJS rewrite does not handle" >&2
    exit 1
  fi
done
cp "$here/index.mjs" "$here/file-cache.cjs" "$here/file-cache.mjs" "$here/file-cache.d.ts" "$out/node/"
cp "$here/workerd.mjs" "$out/web/"
cp "$here/lite.mjs" "$out/lite/node/index.mjs"
cp "$here/package.json" "$out/package.json"
cp "$here/README.md" "$out/README.md"
# The license text ships with the package (package.json names the same license).
cp LICENSE "$out/LICENSE"

raw=$(stat -c %s "$out/web/lifeline_wasm_bg.wasm")
gz=$(gzip -9c "$out/web/lifeline_wasm_bg.wasm" | wc -c)
lite_raw=$(stat -c %s "$out/lite/web/lifeline_wasm_lite_bg.wasm")
lite_gz=$(gzip -9c "$out/lite/web/lifeline_wasm_lite_bg.wasm" | wc -c)
printf '{ "raw_bytes": %s, "gzip_bytes": %s, "lite": { "raw_bytes": %s, "gzip_bytes": %s } }\n' \
  "$raw" "$gz" "$lite_raw" "$lite_gz" > "$out/size.json"
say "built $out: lifeline_wasm_bg.wasm $raw bytes, $gz gzipped; lite $lite_raw bytes, $lite_gz gzipped"
