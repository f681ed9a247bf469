#!/usr/bin/env bash
# Fetches Apache Kafka (broker, KRaft) and its dependencies from Maven Central into .kafka/lib under the project.
# Idempotent: does nothing when the jars for this pom are already there. Needs Java 17+ and Maven.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
lib="${SLUICE_KAFKA_LIB:-$root/.kafka/lib}"
stamp="$lib/.complete"
want="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi

command -v java >/dev/null || { echo "fetch.sh: java not found (install a JDK 17+, e.g. apt-get install -y openjdk-17-jre-headless)" >&2; exit 1; }
command -v mvn >/dev/null || { echo "fetch.sh: mvn not found (install Maven, e.g. apt-get install -y maven)" >&2; exit 1; }

rm -rf "$lib.partial"
mkdir -p "$lib.partial"
mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$lib.partial"
echo "$want" >"$lib.partial/.complete"
rm -rf "$lib"
mv "$lib.partial" "$lib"
echo "Kafka jars in $lib"
