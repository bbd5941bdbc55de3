# Helpers for tests that run their own servers on 127.0.0.1 (no lab).
#
#   wait_port PORT   until something accepts on 127.0.0.1:PORT (5 s at most)

wait_port() {
	local i
	for i in $(seq 50); do
		/usr/bin/python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" \
			2>/dev/null && return 0
		sleep 0.1
	done
	echo "nothing listens on 127.0.0.1:$1" >&2
	return 1
}
