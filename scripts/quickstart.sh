#!/usr/bin/env bash
# One command from a fresh clone on Debian with Node 20: system packages (oneDNN, Jupyter),
# npm packages (the native addon builds during install), the kernel registered with Jupyter,
# then the tutorial notebook executed headless on it, with an HTML export.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npm ci
npm run build
node dist/src/cli.js install --user
node dist/src/cli.js run notebooks/01-estimator-basics.ipynb
cat <<MSG

Done. The executed tutorial is in notebooks/executed/ (01-estimator-basics.ipynb and .html).
Open the HTML in a browser, or work in Jupyter on the notebooks:
    jupyter notebook notebooks/        (or: jupyter lab notebooks/)
and pick the kernel "TypeScript (tfjs-estimator)".
MSG
