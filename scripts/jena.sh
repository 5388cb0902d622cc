#!/usr/bin/env bash
# Run Apache Jena command-line tools from Debian 12's libapache-jena-java (Jena 4.5.0).
# Debian ships only the jars (no bin/riot, no Fuseki), so this script builds the classpath.
#   apt-get install -y --no-install-recommends libapache-jena-java default-jre-headless
# (scripts/install-system.sh installs both.) Copied from the shared recipes; used by
# tests/test_validate_jena.py to check that Jena's SHACL engine agrees with pySHACL.
# Debian packaging bug worked around here: jena-core.jar has the relocated Xerces classes in
# package `xerces.*` but its message bundles under org/apache/jena/ext/xerces/..., so every
# tool dies at start-up with "ExceptionInInitializerError ... xerces.impl.dv.SchemaDVFactory
# ... RuntimeException: internal error". We copy the bundles to xerces/... in an overlay dir
# (once, ~50 KB) and put it first on the classpath.
#
# Usage: jena.sh TOOL [args...]
#   TOOL = riot | turtle | ntriples | nquads | trig | rdfxml | infer      (riotcmd.*)
#        | sparql | update | rsparql | rupdate | qparse | uparse | rdfdiff (arq.*)
#        | shacl | shex | tdb2.tdbloader | tdb2.tdbquery | tdb2.tdbupdate | tdb2.tdbdump | tdb2.tdbstats
#        | any fully-qualified main class
# Examples:
#   jena.sh riot --validate data.ttl                 # syntax check; exit 1 on error
#   jena.sh riot --count data.ttl                    # parse + count triples
#   jena.sh shacl validate --shapes shapes.ttl --data data.ttl   # exit 0 even if non-conformant!
#   jena.sh tdb2.tdbloader --loc /tmp/stores/tdb2 data.ttl
#   jena.sh sparql --data data.ttl --query q.rq
#   jena.sh rsparql --service http://127.0.0.1:7878/query --query q.rq
# Env: JENA_JVM_ARGS (default "-Xmx2g"), JENA_LOG=simple|nop (slf4j binding; default simple),
#      JENA_OVERLAY_DIR (default $TMPDIR/rdfexport-jena-overlay)
set -euo pipefail
J=/usr/share/java
[ -f "$J/jena-cmds.jar" ] || { echo "jena.sh: $J/jena-cmds.jar missing: apt-get install libapache-jena-java" >&2; exit 2; }
command -v java >/dev/null || { echo "jena.sh: no java: apt-get install default-jre-headless" >&2; exit 2; }
OV="${JENA_OVERLAY_DIR:-${TMPDIR:-/tmp}/rdfexport-jena-overlay}"
if [ ! -f "$OV/xerces/impl/xpath/regex/message.properties" ]; then
  mkdir -p "$OV"
  python3 - "$J/jena-core.jar" "$OV" <<'PY'
import sys, zipfile, os
jar, out = sys.argv[1], sys.argv[2]
pre = "org/apache/jena/ext/xerces/"
with zipfile.ZipFile(jar) as z:
    for n in z.namelist():
        if n.startswith(pre) and n.endswith(".properties"):
            dst = os.path.join(out, "xerces", n[len(pre):])
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "wb") as f:
                f.write(z.read(n))
PY
fi
CP="$OV"
for jar in jena-cmds jena-arq jena-core jena-base jena-iri jena-shacl jena-shex jena-tdb jena-tdb2 \
           jena-dboe-base jena-dboe-index jena-dboe-storage jena-dboe-trans-data jena-dboe-transaction \
           jena-rdfconnection commons-cli commons-codec commons-compress commons-csv commons-io commons-lang3 \
           dexx.collection gson guava httpclient httpcore jackson-annotations jackson-core jackson-databind \
           jakarta.json-api jsonld-java protobuf thrift titanium-json-ld slf4j-api "slf4j-${JENA_LOG:-simple}"; do
  [ -f "$J/$jar.jar" ] && CP="$CP:$J/$jar.jar"
done
tool="${1:?usage: jena.sh TOOL [args]}"; shift
case "$tool" in
  riot|turtle|ntriples|nquads|trig|rdfxml|json|infer|utf8) cls="riotcmd.$tool" ;;
  sparql|update|rsparql|rupdate|qparse|uparse|rdfdiff|query|load) cls="arq.$tool" ;;
  shacl|shex) cls="$tool.$tool" ;;
  *) cls="$tool" ;;
esac
# shellcheck disable=SC2086
exec java ${JENA_JVM_ARGS:--Xmx2g} -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$CP" "$cls" "$@"
