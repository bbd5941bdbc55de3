#!/usr/bin/env bats
# dcvctl backup and restore on the lab (issue 10 item 4 "Tests"): a backup of the deployed lab;
# nginx's config broken and dcv.conf deleted, then restore: check passes and the endpoint
# upgrades again; a hostile archive is refused with nothing written; --dry-run shows the diffs
# and changes nothing. Needs root; under CI=true a test that cannot run fails instead of skipping.
# The tests run in order and share one backup of the deployed lab.

bats_require_minimum_version 1.5.0

load lab_helper
load e2e_helper

setup_file() {
	lab_setup_file
	[ ! -f "$BATS_FILE_TMPDIR/lab-missing" ] || return 0
	[ -x "$DCVCTL" ] || return 0
	# the lab deployed, as the other files leave it
	"$DCVCTL" -c "$LAB_CONF" deploy >"$BATS_FILE_TMPDIR/deploy.out" 2>&1 ||
		{ cat "$BATS_FILE_TMPDIR/deploy.out" >&2; return 1; }
	ARCHIVE="$BATS_FILE_TMPDIR/lab.tar.gz"
	export ARCHIVE
	"$DCVCTL" -c "$LAB_CONF" backup --out "$ARCHIVE" >"$BATS_FILE_TMPDIR/backup.out" 2>&1 ||
		{ cat "$BATS_FILE_TMPDIR/backup.out" >&2; return 1; }
}

teardown_file() {
	[ "$(id -u)" -ne 0 ] || [ ! -x "$DCVCTL" ] || e2e_restore_lab || true
}

setup() {
	lab_setup
	require_dcvctl
}

manifest() {
	tar -xzOf "$ARCHIVE" manifest.json
}

# The files restore may write, as each host sees them.
hosts_digest() {
	host_digest gateway /etc/nginx
	host_digest gateway /etc/dcv-connection-gateway
	host_digest dcv1 /etc/dcv
	host_digest dcv2 /etc/dcv
}

# A copy of the archive, unpacked into $1 (to make hostile ones from).
unpack() {
	mkdir -p "$1"
	tar -xzf "$ARCHIVE" -C "$1"
}

@test "backup holds the nginx file, the gateway's cert and key and each dcv.conf, in a mode-600 archive" {
	[ "$(stat -c %a "$ARCHIVE")" = 600 ]
	run tar -tzf "$ARCHIVE"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = manifest.json ]
	[[ $output == *"gateway/etc/nginx/conf.d/dcv-proxy.conf"* ]]
	[[ $output == *"gateway/etc/dcv-connection-gateway/cert.pem"* ]]
	[[ $output == *"gateway/etc/dcv-connection-gateway/key.pem"* ]]
	[[ $output == *"dcv1/etc/dcv/dcv.conf"* ]]
	[[ $output == *"dcv2/etc/dcv/dcv.conf"* ]]
	run manifest
	pyjson "$output" "
f = {(x['host'], x['path']): x for x in d['files']}
assert f[('gateway', '$NGINX_FILE')]['sha256'] == '$(gw_sum)', f
assert f[('gateway', '$GW_KEY')]['mode'] == '0600', f
u = {(h['host'], x['unit']): x['state'] for h in d['hosts'] for x in h['units']}
assert u[('gateway', 'nginx')] == 'active', u
assert u[('dcv1', 'dcvserver')] == 'active', u
assert u[('gateway', 'dcv-connection-gateway')] != 'active', u"
}

@test "restore --dry-run shows the diffs and changes nothing" {
	lab_exec gateway sh -c "echo '# edited by hand (e2e backup)' >> $NGINX_FILE"
	hosts_digest >"$BATS_TEST_TMPDIR/before"
	run --separate-stderr dcv restore "$ARCHIVE" --dry-run
	[ "$status" -eq 0 ]
	[[ $output == *"-# edited by hand (e2e backup)"* ]]
	[[ $output != *"PRIVATE KEY"* ]]
	hosts_digest >"$BATS_TEST_TMPDIR/after"
	diff "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
	run dcv restore "$ARCHIVE" --only gateway
	[ "$status" -eq 0 ]
	run dcv config diff gateway
	[ "$status" -eq 0 ]
}

@test "a hostile archive (traversal, symlink, changed hash) is refused and nothing is written" {
	local x="$BATS_TEST_TMPDIR/x"
	hosts_digest >"$BATS_TEST_TMPDIR/before"
	unpack "$x/changed"
	echo '# not what was backed up' >>"$x/changed/gateway$NGINX_FILE"
	(cd "$x/changed" && tar -czf "$BATS_TEST_TMPDIR/changed.tar.gz" manifest.json gateway dcv1 dcv2)
	unpack "$x/symlink"
	rm "$x/symlink/gateway$NGINX_FILE"
	ln -s /etc/shadow "$x/symlink/gateway$NGINX_FILE"
	(cd "$x/symlink" && tar -czf "$BATS_TEST_TMPDIR/symlink.tar.gz" manifest.json gateway dcv1 dcv2)
	unpack "$x/dots"
	mkdir -p "$x/dots/gateway/etc/cron.d"
	echo '* * * * * root touch /tmp/pwned' >"$x/dots/gateway/etc/cron.d/evil"
	(cd "$x/dots" && tar -czf "$BATS_TEST_TMPDIR/dots.tar.gz" manifest.json dcv1/../gateway/etc/cron.d/evil gateway dcv1 dcv2)

	run --separate-stderr dcv restore "$BATS_TEST_TMPDIR/changed.tar.gz"
	[ "$status" -eq 1 ]
	[[ $stderr == *"does not match its size and sha256"*"nothing was written"* ]]
	run --separate-stderr dcv restore "$BATS_TEST_TMPDIR/symlink.tar.gz"
	[ "$status" -eq 1 ]
	[[ $stderr == *"is a symbolic link to /etc/shadow"* ]]
	run --separate-stderr dcv restore "$BATS_TEST_TMPDIR/dots.tar.gz"
	[ "$status" -eq 1 ]
	[[ $stderr == *"refused"* ]]
	hosts_digest >"$BATS_TEST_TMPDIR/after"
	diff "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
	run lab_exec gateway test -e /etc/cron.d/evil
	[ "$status" -ne 0 ]
}

@test "nginx's config broken and dcv.conf deleted: restore brings both back, check passes and the endpoint upgrades" {
	local dcv1_sum
	dcv1_sum=$(lab_exec dcv1 sha256sum /etc/dcv/dcv.conf | cut -d' ' -f1)
	lab_exec gateway sh -c "echo 'this is not nginx {' >> $NGINX_FILE"
	run lab_exec gateway systemctl restart nginx
	[ "$status" -ne 0 ]
	run lab_exec gateway systemctl is-active nginx
	[ "$output" != active ]
	lab_exec dcv1 rm /etc/dcv/dcv.conf
	run dcv check
	[ "$status" -ne 0 ]

	run --separate-stderr dcv restore "$ARCHIVE"
	[ "$status" -eq 0 ]
	[[ $output == *"gateway    file     changed"*"restored $NGINX_FILE"* ]]
	[[ $output == *"nginx started"* ]]
	# running without its file, dcvserver is restarted; if it died, it is started
	[[ $output =~ dcvserver\ (re)?started ]]
	[ "$(gw_sum)" = "$(manifest | /usr/bin/python3 -c "import json, sys
print([f['sha256'] for f in json.load(sys.stdin)['files'] if f['path'] == '$NGINX_FILE'][0])")" ]
	[ "$(lab_exec dcv1 sha256sum /etc/dcv/dcv.conf | cut -d' ' -f1)" = "$dcv1_sum" ]
	run lab_exec gateway systemctl is-active nginx
	[ "$output" = active ]
	run --separate-stderr dcv check --json
	[ "$status" -eq 0 ]
	pyjson "$output" 'assert d["summary"]["failed"] == 0, d["summary"]'
	proxy_answers_101
}

@test "a second restore changes nothing" {
	run --separate-stderr dcv restore "$ARCHIVE"
	[ "$status" -eq 0 ]
	[[ ${lines[-1]} == *" 0 changed, 0 failed" ]]
}
