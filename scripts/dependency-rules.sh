#!/usr/bin/env bash
# The layering rules ARCHITECTURE.md states, checked on the dependency graph (`cargo tree`,
# normal dependencies only: what ships). Each rule is an absence; a violation prints the
# rule and the path that breaks it, and fails.
set -euo pipefail
cd "$(dirname "$0")/.."

failed=0
tree() { cargo tree --locked -e normal --prefix none "$@" 2>/dev/null; }
refuse() { # rule, found
    echo "dependency rule broken: $1"
    echo "$2" | sed 's/^/    /'
    failed=1
}

# The execution model is pure: no runtime, no database, no wire format.
found="$(tree -p keel-core | grep -E '^(tokio|rusqlite|tokio-postgres|prost|tonic|axum) ' || true)"
[ -z "$found" ] || refuse "keel-core depends on no I/O, database or wire-format crate" "$found"

# REST is not a client of the gRPC frontend; both use keel-wire for Temporal's format.
found="$(tree -p keel-http | grep -E '^keel-grpc ' || true)"
[ -z "$found" ] || refuse "keel-http does not depend on keel-grpc" "$found"

# tonic reaches keel-http only as a dependency of temporalio-protos (its generated message
# types carry tonic's codegen traits); keel-http and keel-wire use none of it themselves.
found="$(tree -p keel-http -i tonic --depth 1 | grep -vE '^(tonic|tonic-prost|temporalio-protos) ' || true)"
[ -z "$found" ] || refuse "keel-http uses tonic only through temporalio-protos" "$found"
found="$(tree -p keel-http -i tonic-prost --depth 1 | grep -vE '^(tonic-prost|temporalio-protos) ' || true)"
[ -z "$found" ] || refuse "keel-http uses tonic only through temporalio-protos" "$found"

# The server binary does not link the Temporal SDK (keel-bench does).
found="$(tree -p keel | grep -E '^temporalio-(sdk|client|sdk-core) ' || true)"
[ -z "$found" ] || refuse "the keel binary does not link the Temporal SDK" "$found"

# Test support compiles only for tests.
found="$(cargo tree --locked -e normal,features -p keel -i keel-store 2>/dev/null | grep 'feature "testing"' || true)"
[ -z "$found" ] || refuse "keel-store's testing feature is off in what ships" "$found"

exit "$failed"
