#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster on loopback, then remove the cluster.
# The command sees TOOLKIT_TEST_DATABASE_URL. Uses Debian's PostgreSQL (installed by make).
#
# The port is TOOLKIT_PG_PORT when set; otherwise a free one is picked (another run, or a
# PostgreSQL already on the machine, may hold the usual ones). If the server does not start,
# or the command fails, the server's log is kept and its path printed.
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
dir=$(mktemp -d /tmp/toolkit-pg.XXXXXX)
log="$dir.log" # beside the cluster, not in it: clean-up removes the cluster, not a log to read
: >"$log"
run_as=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$dir" "$log"
  run_as=(runuser -u postgres --)
fi
keep_log=yes
cleanup() {
  "${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  if [ "$keep_log" = yes ]; then
    echo "with-postgres.sh: PostgreSQL's log is kept at $log" >&2
  else
    rm -f "$log"
  fi
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() { # start the cluster on port $1; fails (keeping the log) if it cannot
  "${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$log" -w \
    -o "-h 127.0.0.1 -p $1 -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null
}

"${run_as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >/dev/null
if [ -n "${TOOLKIT_PG_PORT:-}" ]; then
  port=$TOOLKIT_PG_PORT
  start "$port" || {
    echo "with-postgres.sh: PostgreSQL did not start on port $port (TOOLKIT_PG_PORT);" \
      "unset TOOLKIT_PG_PORT to use a free port. The reason is in $log" >&2
    exit 1
  }
else
  started=no
  for _ in 1 2 3 4 5; do # another process may take the free port before the server does
    port=$(free_port)
    if start "$port"; then
      started=yes
      break
    fi
    grep -q "could not bind\|Address already in use" "$log" || break
  done
  if [ "$started" != yes ]; then
    echo "with-postgres.sh: PostgreSQL did not start (last tried port $port)." \
      "The reason is in $log" >&2
    exit 1
  fi
fi
export TOOLKIT_TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
"$@"
keep_log=no
