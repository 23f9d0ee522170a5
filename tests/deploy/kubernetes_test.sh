#!/usr/bin/env bash
# Checks deploy/kubernetes: every manifest validates against the Kubernetes
# (and Prometheus Operator) schemas, the Deployment follows corostorm's rules
# (non-root, read-only root, drop ALL, probes, resources), the kustomization
# refers only to files that exist, and its config copy is config/corostorm.yaml
# byte for byte. When kubectl is installed, the `kubectl kustomize` output
# (with the generated ConfigMap) is validated too.
#
# usage: kubernetes_test.sh SRC_DIR
# The npm modules come from $COROSTORM_NPM_DIR (default SRC_DIR/build/npm).
# Exits 77 (skipped) when node, the npm modules or python3's PyYAML are missing.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

(($# == 1)) || { echo "usage: $0 SRC_DIR" >&2; exit 2; }
SRC_DIR=$1
DEPLOY=$SRC_DIR/deploy/kubernetes
VALIDATE=$(dirname "${BASH_SOURCE[0]}")/validate_k8s.cjs
NPM_DIR=${COROSTORM_NPM_DIR:-$SRC_DIR/build/npm}
[[ -f $DEPLOY/kustomization.yaml ]] || die "no $DEPLOY/kustomization.yaml"

SETUP="apt-get install -y --no-install-recommends nodejs npm && npm install --prefix $NPM_DIR kubernetes-models@4 @kubernetes-models/validate@4 @kubernetes-models/prometheus-operator@4 yaml@2"
command -v node >/dev/null 2>&1 || skip_test "node is not installed; run: $SETUP"
for module in kubernetes-models @kubernetes-models/validate @kubernetes-models/prometheus-operator yaml; do
    [[ -f $NPM_DIR/node_modules/$module/package.json ]] ||
        skip_test "npm module $module not found in $NPM_DIR/node_modules; run: $SETUP"
done
export NODE_PATH=$NPM_DIR/node_modules
python3 -c 'import yaml' 2>/dev/null ||
    skip_test "python3 with PyYAML is needed for deploy/kubernetes/generate.py --check; run: apt-get install python3-yaml"

e2e_init

# The copy kustomize reads must be the shipped config (which binds 0.0.0.0:9464,
# as a pod needs), so byte-identical.
if cmp -s "$SRC_DIR/config/corostorm.yaml" "$DEPLOY/corostorm.yaml"; then
    ok "deploy/kubernetes/corostorm.yaml is identical to config/corostorm.yaml"
else
    diff -u "$SRC_DIR/config/corostorm.yaml" "$DEPLOY/corostorm.yaml" || true
    not_ok "deploy/kubernetes/corostorm.yaml differs from config/corostorm.yaml (copy it over)"
fi
if grep -qE '^  listen: "?0\.0\.0\.0:9464"?' "$DEPLOY/corostorm.yaml"; then
    ok "the config binds 0.0.0.0:9464"
else
    not_ok "the config must bind 0.0.0.0:9464 in a pod"
fi

# prometheusrule.yaml and grafana-dashboards.yaml are generated from
# deploy/prometheus/rules and dashboards/*.json: they must be current.
if python3 "$DEPLOY/generate.py" --check 2>"$E2E_TMP/generate.err"; then
    ok "prometheusrule.yaml and grafana-dashboards.yaml match deploy/kubernetes/generate.py"
else
    cat "$E2E_TMP/generate.err"
    not_ok "deploy/kubernetes: generated manifests are stale (run python3 deploy/kubernetes/generate.py)"
fi

node "$VALIDATE" "$DEPLOY" || not_ok "the manifests listed in kustomization.yaml"

if command -v kubectl >/dev/null 2>&1; then
    RENDERED=$E2E_TMP/rendered.yaml
    if kubectl kustomize "$DEPLOY" >"$RENDERED" 2>"$E2E_TMP/kustomize.err"; then
        ok "kubectl kustomize deploy/kubernetes"
        node "$VALIDATE" --rendered "$RENDERED" "$SRC_DIR/config/corostorm.yaml" ||
            not_ok "the kustomize output"
    else
        cat "$E2E_TMP/kustomize.err"
        not_ok "kubectl kustomize deploy/kubernetes"
    fi
else
    echo "kubectl is not installed: skipping the kustomize build check"
fi

((E2E_FAILED == 0)) || die "$E2E_FAILED check(s) failed"
echo "all checks passed"
