#!/usr/bin/env bash
# Make a digest-pinned base image pullable through the ECR pull-through cache before `docker build` pulls it.
#
# A first pull by digest does not populate a pull-through cache, not even of a reference that also names a tag
# ("an uncached image returns as missing, even though the tag also is included",
# https://github.com/aws/containers-roadmap/issues/2837); a pull by tag does. So when the selected engine's FROM
# line (container/Dockerfile) pins `<repository>:<tag>@sha256:<digest>` and BASE_REGISTRY is the cache, this
# pulls `<repository>:<tag>` through the cache first. If the tag now names another image (it was pushed again
# upstream), the pinned digest must already be in the cache from an earlier pull, or the build stops here and
# says so. A FROM line pinned by tag alone, or base images pulled from Docker Hub directly, need nothing.
#
# Usage: BASE_REGISTRY=... SERVE_ENGINE=sglang|vllm prime_base_image.sh [Dockerfile]
set -euo pipefail

dockerfile="${1:-Dockerfile}"
: "${SERVE_ENGINE:?SERVE_ENGINE must name the engine stage to build}"
if [ -z "${BASE_REGISTRY:-}" ]; then
  echo "Base images come from Docker Hub directly: no pull-through cache to prime"
  exit 0
fi
reference=$(sed -n "s/^FROM \${BASE_REGISTRY}\([^ ]*\) AS ${SERVE_ENGINE}\$/\1/p" "$dockerfile")
if [ -z "$reference" ]; then
  echo "error: $dockerfile has no 'FROM \${BASE_REGISTRY}<image> AS ${SERVE_ENGINE}' line" >&2
  exit 1
fi
case "$reference" in
  *:*@sha256:*) ;;
  *@sha256:*)
    echo "error: $reference is pinned by digest without its tag; write <repository>:<tag>@sha256:<digest>," \
      "the tag is what fills the pull-through cache (docs/container.md, \"Pinning and bumping\")" >&2
    exit 1
    ;;
  *)
    echo "Base image $reference is pinned by tag: the build's own pull fills the cache"
    exit 0
    ;;
esac
tagged="${reference%@*}"
pinned="${reference#*@}"
echo "Pulling $BASE_REGISTRY$tagged into the pull-through cache (a first pull by digest would not fill it)"
resolved=$(docker pull "$BASE_REGISTRY$tagged" | sed -n 's/^Digest: //p')
if [ "$resolved" = "$pinned" ]; then
  echo "The cache holds the pinned $pinned"
  exit 0
fi
echo "$tagged now resolves to $resolved, not the pinned $pinned: looking for the pinned image in the cache"
if docker pull "$BASE_REGISTRY${tagged%:*}@$pinned" >/dev/null; then
  echo "The cache still holds the pinned $pinned"
  exit 0
fi
echo "error: the tag $tagged was pushed again upstream (now $resolved) and the pull-through cache never held" \
  "the pinned $pinned; review the new image and pin its digest in container/Dockerfile" \
  "(docs/container.md, \"Pinning and bumping\")" >&2
exit 1
