#!/usr/bin/env bash
# Checks what ships without a cluster or a registry:
#
#   1. renders both kustomizations (deploy/k8s/base and deploy/k8s/local) with
#      `kubectl kustomize`;
#   2. validates every rendered object against the Kubernetes API schemas of
#      $KUBERNETES_VERSION, strictly (an unknown field is an error), with kubernetes-validate;
#   3. runs checkov over the Dockerfile, docker-compose.yml and the local overlay's
#      manifests (the base's objects, placed in a namespace); every skipped check is listed,
#      with its reason, in .checkov.yaml;
#   4. checks the compose file's `observability` profile (compose_profiles.py), which
#      cannot be run here: its images cannot be pulled.
#
#   scripts/deploy-check/run.sh
#
# The Python tools come from PyPI, pinned in requirements.txt, into a venv under target/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/scripts/deploy-check"
OUT=${CARGO_TARGET_DIR:-$ROOT/target}/deploy-check
KUBERNETES_VERSION=${KUBERNETES_VERSION:-1.31.0}
log() { printf '[deploy-check] %s\n' "$*" >&2; }

command -v kubectl >/dev/null || {
  log "kubectl is needed to render the kustomizations (kubectl kustomize); install it and rerun"
  exit 1
}

mkdir -p "$OUT"
if [ ! -x "$OUT/venv/bin/checkov" ] || ! cmp -s "$HERE/requirements.txt" "$OUT/venv/requirements.txt"; then
  log "installing the pinned tools into $OUT/venv"
  rm -rf "$OUT/venv"
  python3 -m venv "$OUT/venv"
  "$OUT/venv/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
  cp "$HERE/requirements.txt" "$OUT/venv/requirements.txt"
fi

rm -rf "$OUT/rendered" && mkdir -p "$OUT/rendered"
for overlay in base local; do
  kubectl kustomize "$ROOT/deploy/k8s/$overlay" >"$OUT/rendered/$overlay.yaml"
  log "$overlay: $(grep -c '^kind:' "$OUT/rendered/$overlay.yaml") objects"
done

log "validating against the Kubernetes $KUBERNETES_VERSION API schemas"
"$OUT/venv/bin/kubernetes-validate" --strict --kubernetes-version "$KUBERNETES_VERSION" \
  "$OUT/rendered/base.yaml" "$OUT/rendered/local.yaml"

log "checkov"
cd "$ROOT"
# checkov asks Prisma Cloud for its check guidelines first; offline, that fails with a
# warning and the checks run all the same.
"$OUT/venv/bin/checkov" --config-file "$HERE/.checkov.yaml" \
  --file Dockerfile --file docker-compose.yml --file "$OUT/rendered/local.yaml" 2>/dev/null
"$OUT/venv/bin/python" "$HERE/compose_profiles.py" "$ROOT"
log "passed"
