#!/bin/sh
# The part of the official images' entrypoints that deploy/compose.yaml relies on:
#   postgres ...      initialise $PGDATA on first start (POSTGRES_USER as superuser with POSTGRES_PASSWORD,
#                     POSTGRES_DB created, password logins from any address), then run as user postgres;
#   redis-server ...  run as user redis;
#   anything else     run as given.
set -eu
case "${1:-}" in
postgres)
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
    user="${POSTGRES_USER:-postgres}"
    db="${POSTGRES_DB:-$user}"
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        pwfile=$(mktemp)
        printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
        chown postgres "$pwfile"
        setpriv --reuid=postgres --regid=postgres --init-groups \
            initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
            --encoding=UTF8 --locale=C.UTF-8 >/dev/null
        rm -f "$pwfile"
        echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
        echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
        setpriv --reuid=postgres --regid=postgres --init-groups \
            pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
        if [ "$db" != postgres ]; then
            setpriv --reuid=postgres --regid=postgres --init-groups \
                psql -q -v ON_ERROR_STOP=1 -U "$user" -d postgres -c "CREATE DATABASE \"$db\""
        fi
        setpriv --reuid=postgres --regid=postgres --init-groups pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
        echo "entrypoint: initialised $PGDATA (user $user, database $db)"
    fi
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$@"
    ;;
redis-server)
    chown redis:redis /data
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
    ;;
*)
    exec "$@"
    ;;
esac
