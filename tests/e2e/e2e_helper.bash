# Helpers shared by deploy.bats and check.bats (load after lab_helper).
#
#   dcv ARGS...              dcvctl with the lab's inventory
#   pyjson JSON CODE         run Python CODE with `d` = the parsed JSON (/usr/bin/python3)
#   endpoint_host            the [endpoint] url's host name
#   host_digest HOST DIR     tree_digest of DIR as HOST sees it
#   gw_sum                   sha256 of the deployed nginx file on the gateway
#   proxy_answers_101        a WebSocket upgrade through the gateway's 8443 answers 101
#   nginx_master_pid         /run/nginx.pid on the gateway
#   e2e_restore_lab          undo what a failed test may have left, then deploy

NGINX_FILE=/etc/nginx/conf.d/dcv-proxy.conf
GW_CERT=/etc/dcv-connection-gateway/cert.pem
GW_KEY=/etc/dcv-connection-gateway/key.pem
WS_RFC_ACCEPT=s3pPLMBiTxaQ9kYGzzhZRbK+xOo=   # RFC 6455 §1.3, the key wsprobe.py sends

dcv() {
	"$DCVCTL" -c "$LAB_CONF" "$@"
}

pyjson() {  # pyjson JSON CODE -- e.g. pyjson "$output" 'print(d["summary"]["changed"])'
	/usr/bin/python3 -c "import json, sys
d = json.loads(sys.argv[1])
$2" "$1"
}

endpoint_host() {
	sed -n 's|^url = https://\([^:/]*\).*|\1|p' "$LAB_CONF"
}

host_digest() {  # host_digest HOST DIR
	"$LAB" exec "$1" -- bash -c "$(declare -f tree_digest); tree_digest $2"
}

gw_sum() {
	"$LAB" exec gateway -- sha256sum "$NGINX_FILE" | cut -d' ' -f1
}

nginx_master_pid() {
	"$LAB" exec gateway -- cat /run/nginx.pid
}

# From the operator's machine, as a browser would, with the lab's own client
# (not dcvctl): status 101 and the RFC's Sec-WebSocket-Accept.
proxy_answers_101() {
	local out
	out=$(/usr/bin/python3 "$LAB_ROOT/tools/wsprobe.py" 198.18.0.11 8443 / "https://$(endpoint_host)" 0)
	[ "$(sed -n 1p <<<"$out")" = "status 101" ] || { echo "no 101: $out" >&2; return 1; }
	[ "$(sed -n 2p <<<"$out")" = "accept $WS_RFC_ACCEPT" ] || { echo "bad accept: $out" >&2; return 1; }
}

# PIDs of every sshd process (listener and sessions) in HOST's network namespace.
host_sshd_pids() {
	local p
	for p in $(ip netns pids "dcvlab-$1" 2>/dev/null); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sshd ] && echo "$p"
	done
	return 0
}

# wait_for SECONDS CMD... -- poll CMD every 0.1 s
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# Best effort: put back whatever a test that failed half-way may have left,
# then deploy, so the next file finds the lab deployed and healthy.
e2e_restore_lab() {
	[ -f "$LAB_STATE/lab.env" ] || return 0
	local h
	"$LAB" exec bastion -- ip link set eth0 up 2>/dev/null || true
	"$LAB" exec bastion -- ip link set eth1 up 2>/dev/null || true
	"$LAB" exec gateway -- sh -c "
		rm -f /usr/local/sbin/nginx /etc/nginx/conf.d/zz-broken.conf /etc/nginx/conf.d/zz-port9.conf
		pkill -f '[e]2e-hold-' || true
		command -v nginx >/dev/null || yum -y -q install nginx
		[ -e $GW_CERT.e2e-away ] && mv -f $GW_CERT.e2e-away $GW_CERT
		[ -e $GW_CERT.e2e-orig ] && cat $GW_CERT.e2e-orig > $GW_CERT && rm -f $GW_CERT.e2e-orig
		[ -e $GW_KEY.e2e-orig ] && cat $GW_KEY.e2e-orig > $GW_KEY && rm -f $GW_KEY.e2e-orig
		systemctl start sshd" >/dev/null 2>&1 || true
	for h in dcv1 dcv2; do
		"$LAB" exec "$h" -- systemctl start dcvserver >/dev/null 2>&1 || true
	done
	"$LAB" up >/dev/null 2>&1 || return 1
	"$DCVCTL" -c "$LAB_CONF" deploy >/dev/null 2>&1
}
