#!/usr/bin/env bash
# Installs code-server 4.99.4 (VS Code 1.99.3, the last release that installs with Node 20) and
# playwright-core into DIR (default ~/.cache/tscheck-e2e), for tests/e2e/test_vscode.py.
# Needs: build-essential pkg-config libkrb5-dev ripgrep (apt), and chromium for the test itself.
set -euo pipefail
dir="${1:-${TSCHECK_E2E_DIR:-$HOME/.cache/tscheck-e2e}}"
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"name": "tscheck-e2e", "private": true}' > package.json
# @vscode/ripgrep downloads a binary at install: seed its cache with the system's rg.
export TMPDIR="${TMPDIR:-/tmp}"
cache="$TMPDIR/vscode-ripgrep-cache-1.15.11"
tarball="$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [ ! -f "$tarball" ]; then
  rg="$(command -v rg)" || { echo "install ripgrep first (apt-get install ripgrep)" >&2; exit 1; }
  mkdir -p "$cache"
  staging="$(mktemp -d)"
  cp "$rg" "$staging/rg"
  tar -czf "$tarball" -C "$staging" rg
  rm -rf "$staging"
fi
export npm_config_yes=true  # node-pty's postinstall runs npx
npm install --unsafe-perm --no-audit --no-fund code-server@4.99.4 playwright-core@1
echo "installed into $dir"
