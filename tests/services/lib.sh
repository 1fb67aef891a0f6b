# shellcheck shell=sh
# Shared helpers for the service scripts in tests/services/; sourced, not run.
# POSIX sh. Every helper is prefixed svc_; their working variables are
# prefixed _s_ (POSIX sh has no `local`) so they cannot clobber the caller's.

svc_die() {
	echo "$SVC_NAME: $*" >&2
	exit 1
}

svc_log() {
	[ "${SVC_QUIET:-0}" = 1 ] || echo "$SVC_NAME: $*" >&2
}

# svc_rand N: a random integer in [0, N).
svc_rand() {
	_s_r=$(od -An -N4 -tu4 /dev/urandom 2>/dev/null | tr -d ' ')
	[ -n "$_s_r" ] || _s_r=$$
	echo $((_s_r % $1))
}

# svc_port_busy PORT: true when any TCP socket on this host uses PORT locally.
svc_port_busy() {
	[ -n "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]
}

# svc_free_port: prints a TCP port nobody uses right now. Picked below the
# kernel's ephemeral range (32768+) so outgoing connections cannot take it
# between this check and the server's bind; callers still retry on a bind
# failure because another test may race for the same port.
svc_free_port() {
	_s_i=0
	while [ $_s_i -lt 100 ]; do
		_s_p=$((20000 + $(svc_rand 12000)))
		if ! svc_port_busy "$_s_p"; then
			echo "$_s_p"
			return 0
		fi
		_s_i=$((_s_i + 1))
	done
	return 1
}

# svc_alive PID: the process exists and is not a zombie (orphaned servers are
# reparented to an init that may be slow to reap them).
svc_alive() {
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	_s_st=$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$_s_st" ] && [ "$_s_st" != Z ] && [ "$_s_st" != X ]
}

# svc_kill_wait PID [SECONDS]: SIGTERM, wait up to SECONDS (default 20),
# then SIGKILL and wait again. Works for processes that are not our
# children (the start scripts exit and leave the server orphaned).
svc_kill_wait() {
	_s_pid=$1
	_s_limit=$(( ${2:-20} * 20 ))
	svc_alive "$_s_pid" || return 0
	kill -TERM "$_s_pid" 2>/dev/null
	_s_i=0
	while svc_alive "$_s_pid"; do
		if [ $_s_i -ge "$_s_limit" ]; then
			svc_log "pid $_s_pid ignored SIGTERM; sending SIGKILL"
			kill -KILL "$_s_pid" 2>/dev/null
			_s_j=0
			while svc_alive "$_s_pid" && [ $_s_j -lt 100 ]; do sleep 0.05; _s_j=$((_s_j + 1)); done
			svc_alive "$_s_pid" && return 1
			return 0
		fi
		sleep 0.05
		_s_i=$((_s_i + 1))
	done
	return 0
}

# svc_wait_http URL EXPECT SECONDS [PID]: polls URL until its body equals
# EXPECT (any 2xx answer when EXPECT is empty). Gives up early when PID dies.
svc_wait_http() {
	_s_url=$1 _s_expect=$2 _s_limit=$(( $3 * 10 )) _s_wpid=${4:-}
	_s_i=0
	while [ $_s_i -lt "$_s_limit" ]; do
		if [ -n "$_s_expect" ]; then
			_s_body=$(curl -s --max-time 2 "$_s_url" 2>/dev/null) && [ "$_s_body" = "$_s_expect" ] && return 0
		else
			curl -sf -o /dev/null --max-time 2 "$_s_url" 2>/dev/null && return 0
		fi
		if [ -n "$_s_wpid" ] && ! svc_alive "$_s_wpid"; then return 1; fi
		sleep 0.1
		_s_i=$((_s_i + 1))
	done
	return 1
}

# svc_wait_file FILE SECONDS [PID]: waits until FILE exists and is non-empty.
svc_wait_file() {
	_s_limit=$(( $2 * 10 )) _s_wpid=${3:-}
	_s_i=0
	while [ $_s_i -lt "$_s_limit" ]; do
		[ -s "$1" ] && return 0
		if [ -n "$_s_wpid" ] && ! svc_alive "$_s_wpid"; then return 1; fi
		sleep 0.1
		_s_i=$((_s_i + 1))
	done
	return 1
}

# svc_owns_port PID PORT: PID listens on PORT (when ss can tell; otherwise true).
svc_owns_port() {
	_s_out=$(ss -Htlnp "( sport = :$2 )" 2>/dev/null) || return 0
	case $_s_out in
	*"pid=$1,"*) return 0 ;;
	*pid=*) return 1 ;;
	*) [ -z "$_s_out" ] && return 1; return 0 ;;
	esac
}

# svc_env_get FILE KEY: the value of KEY=... in an env file.
svc_env_get() {
	sed -n "s/^$2=//p" "$1" 2>/dev/null | head -n 1
}

# svc_need_apt BINARY PACKAGES...: installs Debian packages when BINARY is missing.
svc_need_apt() {
	_s_bin=$1
	shift
	command -v "$_s_bin" >/dev/null 2>&1 && return 0
	[ -x "/usr/sbin/$_s_bin" ] && return 0
	svc_log "$_s_bin missing; installing $*"
	_s_sudo=""
	[ "$(id -u)" = 0 ] || _s_sudo=sudo
	$_s_sudo apt-get update -qq >/dev/null 2>&1
	DEBIAN_FRONTEND=noninteractive $_s_sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
		svc_die "apt-get install $* failed"
}

# svc_stop_common DIR [--purge]: kills the pid recorded in DIR/pid; with
# --purge also removes the files the start command created (listed in
# DIR/.created, one relative path a line), never anything else in DIR.
svc_stop_common() {
	_s_d=$1
	_s_purge=${2:-}
	_s_rc=0
	if [ -f "$_s_d/pid" ]; then
		_s_pid=$(cat "$_s_d/pid")
		if svc_kill_wait "$_s_pid" "${SVC_STOP_TIMEOUT:-20}"; then
			svc_log "stopped (pid $_s_pid)"
		else
			svc_log "could not stop pid $_s_pid"
			_s_rc=1
		fi
		rm -f "$_s_d/pid" "$_s_d/env"
	fi
	if [ "$_s_purge" = --purge ] && [ -f "$_s_d/.created" ]; then
		while IFS= read -r _s_f; do
			case $_s_f in "" | /* | *..*) continue ;; esac
			rm -rf "${_s_d:?}/$_s_f"
		done <"$_s_d/.created"
		rm -f "$_s_d/.created"
		rmdir "$_s_d" 2>/dev/null
	fi
	return $_s_rc
}

# svc_created DIR PATH...: remembers files the start command made (for --purge).
svc_created() {
	_s_d=$1
	shift
	for _s_f in "$@"; do
		grep -qxF "$_s_f" "$_s_d/.created" 2>/dev/null || echo "$_s_f" >>"$_s_d/.created"
	done
}

# svc_check_not_running DIR: refuses to start twice in one directory.
svc_check_not_running() {
	if [ -f "$1/pid" ] && svc_alive "$(cat "$1/pid")"; then
		svc_die "already running in $1 (pid $(cat "$1/pid"))"
	fi
}
