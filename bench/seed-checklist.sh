#!/usr/bin/env bash
# The seed runbook's checklist done the runbook's way, as the peer dcvctl is measured against:
# one `ssh` per item through the bastion (port forwards for gateway and dcv1, -J for the other
# agents), plus curl and openssl, exactly as 動作確認チェックリスト, Step 1.4 and 問題1-3 do it.
# Usage: bench/seed-checklist.sh INVENTORY   (the lab's tests/lab/run/dcvctl.conf)
# Prints one line per item (ok/FAIL) and exits 1 if any failed.
set -u
inv=${1:?usage: seed-checklist.sh INVENTORY}
dir=$(cd "$(dirname "$inv")" && pwd)
key=$dir/id_rsa
kh=$dir/known_hosts

val() { # section key -> value (first match), from the inventory
	awk -v s="[$1]" -v k="$2" '
		/^\[/ { in_s = ($0 == s) }
		in_s && $1 == k && $2 == "=" { sub(/^[^=]*= */, ""); sub(/ +[#;].*$/, ""); print; exit }' "$inv"
}
agents=$(awk '/^\[agent /{ sub(/^\[agent /, ""); sub(/\]$/, ""); print }' "$inv")
bastion=$(val bastion address)
bastion_ssh=$(val bastion ssh)
gw_ssh=$(val gateway ssh)
url=$(val endpoint url)
connect_to=$(val endpoint connect-to)
host=${url#https://}; host=${host%%/*}; name=${host%%:*}; port=${host##*:}
cert=$(val gateway cert); cert=${cert:-/etc/dcv-connection-gateway/cert.pem}

SSH=(ssh -q -i "$key" -o BatchMode=yes -o UserKnownHostsFile="$kh" -o StrictHostKeyChecking=yes
	-o ConnectTimeout=10 -F /dev/null)
fails=0
item() { # description, command...
	local what=$1; shift
	if "$@" >/dev/null 2>&1; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
on_gateway() { "${SSH[@]}" -p "${gw_ssh##*:}" "ec2-user@${gw_ssh%%:*}" "$@"; }
on_agent() { # name, command...
	local a=$1; shift
	local ssh_line addr
	ssh_line=$(val "agent $a" ssh)
	addr=$(val "agent $a" address)
	if [ -n "$ssh_line" ]; then
		"${SSH[@]}" -p "${ssh_line##*:}" "ubuntu@${ssh_line%%:*}" "$@"
	else
		# -J would not pass our key and known_hosts to the jump's own ssh: spell it out
		"${SSH[@]}" -o ProxyCommand="${SSH[*]} -W %h:%p -p ${bastion_ssh##*:} ec2-user@${bastion_ssh%%:*}" \
			"ubuntu@$addr" "$@"
	fi
}

# Checklist: nginx running, port listening (the runbook's netstat; ss on hosts without net-tools)
item "gateway: nginx is running" on_gateway sudo systemctl status nginx
item "gateway: 8443 is listening" on_gateway "sudo ss -tlnp | grep -q 8443"
# 問題2: the certificate's SAN
item "gateway: certificate SAN" on_gateway "openssl x509 -in $cert -text -noout | grep -A1 'Subject Alternative Name' | grep -q '$name'"
# 問題1: the WebSocket upgrade on the gateway. The runbook's `curl -i` never returns on an
# upgraded socket (curl 7.88 even holds the 101 head until --max-time); an operator watches
# `curl -v` print the status line and presses Ctrl-C: stop at the 101 and end curl, so no
# fixed wait is measured.
item "gateway: WebSocket upgrade" on_gateway "bash -c 'exec 3< <(exec curl -v -k -s --http1.1 -H \"Upgrade: websocket\" -H \"Connection: Upgrade\" -H \"Sec-WebSocket-Version: 13\" -H \"Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\" -H \"Origin: https://$name\" https://localhost:$port/ --max-time 5 -o /dev/null </dev/null 2>&1); pid=\$!; grep -m 1 -q \"^< HTTP/1.1 101 \" <&3; rc=\$?; kill \$pid 2>/dev/null; exit \$rc'"
for a in $agents; do
	addr=$(val "agent $a" address)
	# Step 1.4: the gateway reaches the agent
	item "gateway -> $a: HTTP" on_gateway "curl -k -s -f -I https://$addr:8443/ --max-time 5"
	# 問題3: dcvserver status; checklist: a session exists
	item "$a: dcvserver is running" on_agent "$a" sudo systemctl status dcvserver
	item "$a: a session exists" on_agent "$a" "sudo dcv list-sessions | grep -q '^Session:'"
done
# Checklist: HTTP through the endpoint (the runbook's curl --noproxy '*' -k -I)
item "endpoint: HTTP" curl --noproxy '*' -k -s -f -I --max-time 10 --connect-to "$name:$port:$connect_to" "$url"
[ "$fails" -eq 0 ]
