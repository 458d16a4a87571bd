# Sourced by the scenario entrypoints: what they share.

# wait_for SECONDS WHAT COMMAND...: runs COMMAND every 0.1 s until it
# succeeds; after SECONDS, says that WHAT did not happen and exits 1.
wait_for() {
    limit=$(($1 * 10))
    what=$2
    shift 2
    tries=0
    until "$@" >/dev/null 2>&1; do
        tries=$((tries + 1))
        [ "$tries" -le "$limit" ] || { echo "$what within $(($limit / 10)) s" >&2; exit 1; }
        sleep 0.1
    done
}
