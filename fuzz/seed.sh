#!/usr/bin/env bash
# Fills the fuzzing corpora (fuzz/corpus/<target>/, not kept in git) with seeds: every UBL file
# of the shared corpus beside the repository (valid and invalid examples) for both XML targets, and the demo
# configuration with the crate's full example configuration.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
shared="$(dirname "$repo")/shared/corpus/ubl"
if [ ! -d "$shared" ]; then
    echo "the corpus is missing: expected $shared (the shared folder beside the repository)" >&2
    exit 1
fi
mkdir -p "$here/corpus/ubl_read_validate" "$here/corpus/xml_readers" "$here/corpus/config"
cp "$shared"/valid/*.xml "$shared"/invalid/*.xml "$here/corpus/ubl_read_validate/"
cp "$shared"/valid/*.xml "$shared"/invalid/*.xml "$here/corpus/xml_readers/"
cp "$repo/shared/cli/demo/ledgerpost.toml" "$here/corpus/config/demo.toml"
cp "$repo/shared/domain/examples/ledgerpost.toml" "$here/corpus/config/example.toml"
echo "seeded: $(ls "$here/corpus/ubl_read_validate" | wc -l) UBL files (for each XML target), $(ls "$here/corpus/config" | wc -l) configurations"
