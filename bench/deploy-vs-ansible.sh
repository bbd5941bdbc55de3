#!/usr/bin/env bash
# dcvctl deploy against an Ansible playbook of the same steps (bench/ansible/deploy.yml, Debian's
# ansible-core), on the lab (gateway + 2 agents). Each tool's FIRST run is timed on a fresh lab
# (`lab down && lab up` before it, not timed), then its no-op re-run; the tools alternate. After
# every run `dcvctl check` must pass, and after Ansible's first run `dcvctl deploy --dry-run` must
# find nothing to change (the playbook did the same work); both re-runs must change nothing.
# Targets (design §10): first run at least 20x faster; dcvctl's no-op re-run under 1 s.
# Usage: bench/deploy-vs-ansible.sh [RUNS]  (root; default 3). Leaves the lab up, deployed.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
make -s dcvctl
if ! command -v ansible-playbook >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q ansible-core >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The playbook does the runbook's steps; deploy's [maintenance] (logrotate, health timer) has no
# counterpart there, so dcvctl runs without it here: the same work on both sides.
fresh_lab() {
	local lab_inv
	tests/lab/lab down >/dev/null 2>&1 || true
	lab_inv=$(tests/lab/lab up --agents 2 | tail -n 1)
	{ cat "$lab_inv"; printf '\n[maintenance]\nlogrotate = no\nhealth-restart = no\n'; } >"$work/dcvctl.conf"
	echo "$work/dcvctl.conf"
}
inv=$(fresh_lab)
./dcvctl -c "$inv" config render nginx >"$work/dcv-proxy.conf"

# The Ansible inventory, from the lab's: the same key, known_hosts and strict host-key checking;
# agents with `jump = bastion` go through a ProxyCommand to the bastion.
awk -v kh="$(sed -n 's/^known-hosts = //p' "$inv")" -v key="$(sed -n 's/^identity = //p' "$inv")" '
	function flush() {
		if (name == "") return
		if (name == "bastion") { bh = h; bp = p; bu = u }
		else {
			line = name " ansible_user=" u
			if (jump != "") line = line " ansible_host=" addr " ansible_port=22 ansible_ssh_common_args=\"" \
				opts " -o ProxyCommand=\\\"ssh " opts " -i " key " -p " bp " -W %h:%p " bu "@" bh "\\\"\""
			else line = line " ansible_host=" h " ansible_port=" p
			if (role == "gateway") gw = line; else ag = ag line "\n"
		}
		name = ""; h = p = u = addr = jump = ""
	}
	BEGIN { opts = "-o StrictHostKeyChecking=yes -o UserKnownHostsFile=" kh }
	/^\[/ { flush(); s = $0; gsub(/[][]/, "", s); n = split(s, w, " ")
		if (w[1] == "bastion" || w[1] == "gateway") { name = w[1]; role = w[1] }
		else if (w[1] == "agent") { name = w[2]; role = "agent" }
		next }
	name != "" && /^ssh = / { split($3, a, ":"); h = a[1]; p = a[2] ? a[2] : 22 }
	name != "" && /^user = / { u = $3 }
	name != "" && /^address = / { addr = $3 }
	name != "" && /^jump = / { jump = $3 }
	name == "gateway" && /^(cert|key|listen) = / { gwvars = gwvars " " $1 "=" $3 }
	END { flush()
		print "[gateways]\n" gw gwvars "\n\n[agents]\n" ag
		print "[all:vars]\nansible_ssh_private_key_file=" key "\nansible_python_interpreter=/usr/bin/python3"
		print "ansible_ssh_common_args=\"" opts "\"" }
' "$inv" >"$work/hosts"

export ANSIBLE_PIPELINING=True ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_NOCOLOR=1 \
	ANSIBLE_RETRY_FILES_ENABLED=False ANSIBLE_SSH_CONTROL_PATH_DIR="$work/cp"
ansible_run() {
	ansible-playbook -i "$work/hosts" -e nginx_conf="$work/dcv-proxy.conf" bench/ansible/deploy.yml >"$work/ansible.log" 2>&1 ||
		{ cat "$work/ansible.log" >&2; echo "the playbook failed" >&2; exit 1; }
}
changed_steps() { ./dcvctl -c "$inv" deploy "$@" --json | grep -c '"status": "changed"' || true; }
verify() { # what ran
	./dcvctl -c "$inv" check --format json >/dev/null || { ./dcvctl -c "$inv" check >&2 || true; echo "check fails after $1" >&2; exit 1; }
}

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l; }
d_first=() d_noop=() a_first=() a_noop=()
for ((i = 0; i < runs; i++)); do
	[ "$i" -eq 0 ] || inv=$(fresh_lab)
	t=$(now); ./dcvctl -q -c "$inv" deploy >/dev/null; d_first+=("$(since "$t")")
	verify "dcvctl deploy"
	t=$(now); n=$(changed_steps); d_noop+=("$(since "$t")")
	[ "$n" -eq 0 ] || { echo "dcvctl's re-run changed $n steps" >&2; exit 1; }
	verify "dcvctl's re-run"

	inv=$(fresh_lab)
	rm -rf "$work/cp"
	t=$(now); ansible_run; a_first+=("$(since "$t")")
	verify "the playbook"
	n=$(changed_steps --dry-run)
	[ "$n" -eq 0 ] || { echo "after the playbook, dcvctl deploy would still change $n steps" >&2; exit 1; }
	t=$(now); ansible_run; a_noop+=("$(since "$t")")
	grep -Eq 'changed=[1-9]' "$work/ansible.log" && { cat "$work/ansible.log" >&2; echo "the playbook's re-run changed something" >&2; exit 1; }
	verify "the playbook's re-run"
done
# leave the lab deployed by dcvctl's own deploy (idempotent over the playbook's work)
./dcvctl -q -c "$inv" deploy >/dev/null

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
m_df=$(median "${d_first[@]}") m_dn=$(median "${d_noop[@]}")
m_af=$(median "${a_first[@]}") m_an=$(median "${a_noop[@]}")
echo "$(ansible-playbook --version | head -n 1) (Debian $(dpkg-query -W -f '${Version}' ansible-core)), pipelining on, no fact gathering"
printf 'dcvctl deploy       first run median %.3f s, no-op re-run median %.3f s over %d runs\n' "$m_df" "$m_dn" "$runs"
printf 'ansible-playbook    first run median %.3f s, no-op re-run median %.3f s over %d runs\n' "$m_af" "$m_an" "$runs"
printf 'first-run ratio     %.1fx faster (target >= 20x)\n' "$(echo "$m_af / $m_df" | bc -l)"
printf 'no-op ratio         %.1fx faster; dcvctl no-op %.3f s (target < 1 s)\n' "$(echo "$m_an / $m_dn" | bc -l)" "$m_dn"
