#!/bin/sh
# One-shot, once the Temporal frontend answers: register the namespace the engine uses and the
# custom search attributes its workflows set. Safe to run again: what exists is left alone
# (a changed retention is applied with `namespace update`).
#
#   TEMPORAL_ADDRESS              frontend host:port (temporal:7233)
#   TEMPORAL_NAMESPACE            namespace to register (the engine's LIFECYCLE_TEMPORAL_NAMESPACE)
#   TEMPORAL_NAMESPACE_RETENTION  how long closed workflow histories are kept (e.g. 720h)
#   TEMPORAL_SEARCH_ATTRIBUTES    space-separated Name=Type pairs (Type: Keyword, Text, Int,
#                                 Double, Bool, Datetime, KeywordList); empty: none
set -eu

: "${TEMPORAL_ADDRESS:?set TEMPORAL_ADDRESS to the Temporal frontend, host:port}"
: "${TEMPORAL_NAMESPACE:?set TEMPORAL_NAMESPACE to the namespace the engine uses}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-720h}"
ATTRIBUTES="${TEMPORAL_SEARCH_ATTRIBUTES:-}"
ATTEMPTS="${TEMPORAL_SETUP_ATTEMPTS:-60}"
export TEMPORAL_ADDRESS

attempt=1
until temporal operator cluster health >/dev/null 2>&1; do
    if [ "$attempt" -ge "$ATTEMPTS" ]; then
        echo "Temporal at $TEMPORAL_ADDRESS is not serving after $attempt attempts" >&2
        temporal operator cluster health >&2 || true
        exit 1
    fi
    attempt=$((attempt + 1))
    sleep 2
done

if temporal operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; then
    temporal operator namespace update --namespace "$TEMPORAL_NAMESPACE" --retention "$RETENTION"
    echo "namespace $TEMPORAL_NAMESPACE exists (retention $RETENTION)"
else
    temporal operator namespace create --namespace "$TEMPORAL_NAMESPACE" --retention "$RETENTION" \
        --description "Org Lifecycle Engine"
    echo "namespace $TEMPORAL_NAMESPACE created (retention $RETENTION)"
fi

# A new namespace reaches every frontend's cache a moment after it is created.
attempt=1
until temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1
do
    if [ "$attempt" -ge "$ATTEMPTS" ]; then
        echo "namespace $TEMPORAL_NAMESPACE is not visible after $attempt attempts" >&2
        exit 1
    fi
    attempt=$((attempt + 1))
    sleep 1
done

for pair in $ATTRIBUTES; do
    name="${pair%%=*}"
    type="${pair#*=}"
    if temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE" \
            | awk '{print $1}' | grep -qx "$name"; then
        echo "search attribute $name exists"
    else
        temporal operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" \
            --name "$name" --type "$type"
        echo "search attribute $name ($type) created"
    fi
done
echo "namespace $TEMPORAL_NAMESPACE is ready"
