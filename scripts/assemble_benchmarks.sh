#!/usr/bin/env bash
# Rebuild docs/benchmarks.md from the per-area benchmark pages in docs/parts/ (each page keeps
# its figures next to the command that produced them; this file gathers them in one place).
set -euo pipefail
cd "$(dirname "$0")/.."
{
  cat <<'TXT'
# Benchmarks

Every figure below was printed by a script in `benchmarks/`, with the command next to it. They
were measured on the project's 2-core CPU machine (no GPU), in November and December 2026,
while other jobs shared the two cores: treat absolute times as upper bounds; ratios measured
within one run are the robust figures. This page is assembled from `docs/parts/bench-*.md` by
`scripts/assemble_benchmarks.sh`.

Contents: Gaussian fit speed and quality; transport kernel and loss speed (GST vs Bayesian, OT,
L2); counting accuracy on VGG cells; landmark accuracy on synthetic hands.

TXT
  for part in bench-fit bench-losses bench-accuracy bench-landmarks; do
    echo
    # Shift headings one level down so each page becomes a section.
    sed -e 's/^#/##/' "docs/parts/$part.md"
  done
} > docs/benchmarks.md
echo "wrote docs/benchmarks.md"
