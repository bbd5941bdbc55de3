# fish completion for dcvctl(1).
#
# Every option has one `complete` line whose condition names its command
# (__dcvctl_using CMD, or __dcvctl_using CMD SUB for a subcommand); options that take a value are
# also listed in __dcvctl_valued, and commands with subcommands in __dcvctl_subcmds. This mirrors
# the command table (dcv_commands[] in cmd/): tests/unit/test_cli.c fails until every command,
# subcommand and option of the table is here.

set -g __dcvctl_commands \
    'backup	every managed file of every host into one local .tar.gz with a manifest' \
    'broker	the Session Manager broker as Session Resolver for the Connection Gateway' \
    'cert	check a certificate, or generate a self-signed pair for the endpoint' \
    'check	the full checklist over every hop, with the diagnosis of the first broken one' \
    'config	render, diff or lint the configurations dcvctl manages' \
    'deploy	deploy the bypass with nginx or HAProxy (runbook Phase 1, Phase 2): idempotent, with rollback' \
    'exec	run a command on a host, arguments passed literally, output streamed' \
    'help	show help for dcvctl or a command' \
    "hosts	list the inventory's hosts; --probe connects to each in parallel" \
    "logs	the proxy's and DCV's logs of the hosts, merged by time, errors highlighted" \
    'probe	probe an https URL: http, tls or ws, from here or --via a host' \
    "restore	put a backup's files back on their hosts, validated, with rollback" \
    'service	status/start/stop/restart/reload/enable/disable units via systemctl (sudo)' \
    'session	list, create, close or recreate DCV sessions on agents' \
    "version	print dcvctl's version and the libraries it runs on"

# "CMD:SUB SUB..." for each command with subcommands.
set -g __dcvctl_subcmds 'broker:enable-gateway' 'cert:check generate' 'config:diff lint render' 'probe:http tls ws' \
    'session:close create list recreate'

# "PATH:OPTION" for each option that takes its value from the next word ("global" before the
# command; PATH is the command, or the command and its subcommand).
set -g __dcvctl_valued global:-c global:--config global:--color \
    backup:-o backup:--out restore:--only \
    'cert check:-r' 'cert check:--remote' 'cert check:-n' 'cert check:--name' \
    'cert check:-k' 'cert check:--key' \
    'cert generate:-o' 'cert generate:--out' 'cert generate:-s' 'cert generate:--san' \
    'cert generate:--days' \
    check:-f check:--format check:-o check:--output check:--only check:--skip check:--hold \
    check:--interval \
    'config render:-a' 'config render:--agent' \
    deploy:--only deploy:--serial deploy:--max-fail deploy:--proxy \
    exec:-t exec:--timeout \
    logs:--since logs:--grep logs:-n logs:--lines \
    'probe http:--via' 'probe http:--connect-to' 'probe http:--timeout' \
    'probe tls:--via' 'probe tls:--connect-to' 'probe tls:--timeout' \
    'probe ws:--via' 'probe ws:--connect-to' 'probe ws:--hold' 'probe ws:--interval' \
    'probe ws:--timeout' \
    'session close:-a' 'session close:--agent' 'session create:-a' 'session create:--agent' \
    'session list:-a' 'session list:--agent' 'session recreate:-a' 'session recreate:--agent'

set -g __dcvctl_units nginx haproxy dcvserver dcv-session-manager-agent \
    dcv-session-manager-broker dcv-connection-gateway

# Does option $argv[2] (as typed) take the next word as its value, in scope $argv[1]?
function __dcvctl_takes_value
    set -l scope $argv[1]
    set -l tok $argv[2]
    if string match -q -- '--*=*' $tok
        return 1
    else if string match -q -- '--*' $tok
        contains -- "$scope:$tok" $__dcvctl_valued
        return
    end
    set -l chars (string split '' -- (string sub -s 2 -- $tok))
    for i in (seq (count $chars))
        if contains -- "$scope:-$chars[$i]" $__dcvctl_valued
            test $i -eq (count $chars)
            return
        end
    end
    return 1
end

# Walk the words before the cursor; print one of: path (command and subcommand), npos (number
# of positional arguments after them), dd (1 after "--"), conf (the -c value).
function __dcvctl_parse
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l path
    set -l npos 0
    set -l dd 0
    set -l conf
    set -l value 0
    set -l opt
    for t in $tokens
        if test $value -eq 1
            set value 0
            if test -z "$path"; and contains -- $opt -c --config
                set conf $t
            end
        else if test $dd -eq 1
            set npos (math $npos + 1)
        else if test -n "$path"; and test "$t" = --
            set dd 1
        else if string match -q -- '-?*' $t
            set -l scope global
            test -n "$path"; and set scope "$path"
            set opt $t
            __dcvctl_takes_value "$scope" $t; and set value 1
            if test -z "$path"
                string match -q -- '--config=*' $t; and set conf (string replace -- '--config=' '' $t)
                string match -q -- '-c?*' $t; and set conf (string sub -s 3 -- $t)
            end
        else if test -z "$path"
            set path $t
        else if not string match -q -- '* *' "$path"; and test $npos -eq 0; and __dcvctl_subcmds_of $path >/dev/null
            set path "$path $t"
        else
            set npos (math $npos + 1)
        end
    end
    switch $argv[1]
        case path
            echo $path
        case npos
            echo $npos
        case dd
            echo $dd
        case conf
            echo $conf
    end
end

# The subcommands of command $argv[1]; fails when it has none.
function __dcvctl_subcmds_of
    for entry in $__dcvctl_subcmds
        set -l kv (string split -m 1 : -- $entry)
        if test "$kv[1]" = "$argv[1]"
            string split ' ' -- $kv[2]
            return 0
        end
    end
    return 1
end

function __dcvctl_needs_command
    test -z "$(__dcvctl_parse path)"
end

# True when the command line is at a command that has subcommands, before its subcommand.
function __dcvctl_needs_subcmd
    set -l path "$(__dcvctl_parse path)"
    test -n "$path"; and not string match -q -- '* *' $path; and __dcvctl_subcmds_of $path >/dev/null
end

# True when the command line is at command $argv (e.g. "exec", or "session create") and before
# any "--".
function __dcvctl_using
    test (__dcvctl_parse dd) -eq 0; and test "$(__dcvctl_parse path)" = "$argv"
end

# __dcvctl_arg PATH... N: completing the Nth positional argument of PATH ("exec", or
# "config diff"); N "3+" means the third or later.
function __dcvctl_arg
    __dcvctl_using $argv[1..-2]; or return
    set -l n (math (__dcvctl_parse npos) + 1)
    if string match -q -- '*+' $argv[-1]
        test $n -ge (string trim -r -c + -- $argv[-1])
    else
        test $n -eq $argv[-1]
    end
end

# Host names of the inventory dcvctl would read (-c FILE, $DCVCTL_CONFIG, ./dcvctl.conf,
# $XDG_CONFIG_HOME/dcvctl/dcvctl.conf): [gateway], [bastion] and [agent NAME] headers.
# $argv[1]: "agent" for the agents only, "managed" for the gateway and the agents.
function __dcvctl_hosts
    set -l f (__dcvctl_parse conf)
    test -z "$f"; and set f $DCVCTL_CONFIG
    if test -z "$f"; and test -e dcvctl.conf
        set f dcvctl.conf
    end
    if test -z "$f"
        set -l base $XDG_CONFIG_HOME
        test -z "$base"; and set base $HOME/.config
        set f $base/dcvctl/dcvctl.conf
    end
    string match -q -- '~/*' $f; and set f $HOME/(string sub -s 3 -- $f)
    test -r "$f"; or return
    awk -v only="$argv[1]" '
         /^\[[ \t]*gateway[ \t]*\]/ { if (only != "agent") print "gateway" }
         /^\[[ \t]*bastion[ \t]*\]/ { if (only == "") print "bastion" }
         /^\[[ \t]*agent[ \t]+[^] \t]+[ \t]*\]/ { sub(/^\[[ \t]*agent[ \t]+/, ""); sub(/[ \t]*\].*/, ""); print }' \
        $f 2>/dev/null
end

# Check IDs and the prefixes --only and --skip take, after what is already typed of a
# comma-separated list.
function __dcvctl_checkids
    set -l tok (commandline -ct)
    set -l pfx
    string match -q -- '*,*' $tok; and set pfx (string replace -r -- '[^,]*$' '' $tok)
    string match -q -- '--*=*' $pfx; and set pfx (string replace -r -- '^--[^=]*=' '' $pfx)
    set -l ids bastion bastion.ssh gateway gateway.ssh gateway.legacy-services gateway.proxy \
        gateway.proxy.service gateway.proxy.config gateway.proxy.listen gateway.cert gateway.to \
        agent endpoint endpoint.tcp endpoint.tls endpoint.http endpoint.websocket endpoint.hold \
        broker broker.service broker.enable-gateway broker.listen gateway.resolver \
        gateway.resolver.tls gateway.resolver.mtls gateway.resolver.session
    for a in (__dcvctl_hosts agent)
        set -a ids agent.$a agent.$a.{ssh,sm-agent,dcvserver,config,session} \
            gateway.to.$a gateway.to.$a.{tcp,tls,http} gateway.resolver.session.$a
    end
    printf '%s\n' "$pfx"$ids
end

complete -c dcvctl -f

# global options, before the command
complete -c dcvctl -n __dcvctl_needs_command -s c -l config -r -F -d 'inventory file'
complete -c dcvctl -n __dcvctl_needs_command -s v -l verbose -d 'more detail'
complete -c dcvctl -n __dcvctl_needs_command -s q -l quiet -d 'only errors and results'
complete -c dcvctl -n __dcvctl_needs_command -l json -d 'machine-readable output'
complete -c dcvctl -n __dcvctl_needs_command -l color -x -a 'auto always never' -d 'colour (NO_COLOR is honoured)'
complete -c dcvctl -n __dcvctl_needs_command -l version -d 'print the version'
complete -c dcvctl -n __dcvctl_needs_command -s h -l help -d 'show help'
complete -c dcvctl -n __dcvctl_needs_command -a '(string join \n -- $__dcvctl_commands)'
complete -c dcvctl -n __dcvctl_needs_subcmd -a '(__dcvctl_subcmds_of (__dcvctl_parse path))'

# every command and subcommand takes --help
complete -c dcvctl -n 'not __dcvctl_needs_command; and test (__dcvctl_parse dd) -eq 0' -s h -l help -d 'show help'

# backup [--out FILE] [--json]
complete -c dcvctl -n '__dcvctl_using backup' -s o -l out -r -F -d 'write the archive here (default dcvctl-backup-<UTC>.tar.gz); an existing file is kept'
complete -c dcvctl -n '__dcvctl_using backup' -l json -d 'print what was saved and what was left out as JSON'

# broker enable-gateway [--tls-client-auth] [--dry-run]
complete -c dcvctl -n '__dcvctl_using broker enable-gateway' -s n -l dry-run -d 'print the plan and unified diffs; change nothing'
complete -c dcvctl -n '__dcvctl_using broker enable-gateway' -l tls-client-auth -d "also require the gateway's client certificate"

# cert check [URL|FILE|--remote HOST:PATH] [--name FQDN] [--key PATH] [--json]
complete -c dcvctl -n '__dcvctl_using cert check' -s r -l remote -x -a '(__dcvctl_hosts | string replace -r \'$\' :)' -d 'read the certificate on a host (HOST:/PATH, with sudo)'
complete -c dcvctl -n '__dcvctl_using cert check' -s n -l name -x -d 'a name the certificate must cover (repeatable)'
complete -c dcvctl -n '__dcvctl_using cert check' -s k -l key -r -F -d 'the private key to match (local, or on the --remote host)'
complete -c dcvctl -n '__dcvctl_using cert check' -l json -d 'print as JSON'
complete -c dcvctl -n '__dcvctl_arg cert check 1' -F -d 'URL or certificate file'

# cert generate --out DIR [--san NAME]... [--days N] [--install]
complete -c dcvctl -n '__dcvctl_using cert generate' -s o -l out -x -a '(__fish_complete_directories)' -d 'write cert.pem and key.pem here'
complete -c dcvctl -n '__dcvctl_using cert generate' -s s -l san -x -d 'another DNS name or IP address (repeatable)'
complete -c dcvctl -n '__dcvctl_using cert generate' -l days -x -d 'validity in days (default 365)'
complete -c dcvctl -n '__dcvctl_using cert generate' -l install -d "also install the pair at the gateway's cert/key paths and reload the proxy"

# check [--format FMT] [--output FILE] [--only IDS] [--skip IDS] [--hold DUR] [--interval DUR] [--strict] [--aws] [--json]
complete -c dcvctl -n '__dcvctl_using check' -s f -l format -x -a 'text json junit tap prometheus' -d 'report format'
complete -c dcvctl -n '__dcvctl_using check' -s o -l output -r -F -d 'write the report to FILE (atomically) instead of stdout'
complete -c dcvctl -n '__dcvctl_using check' -l only -x -a '(__dcvctl_checkids)' -d 'only these check IDs or ID prefixes'
complete -c dcvctl -n '__dcvctl_using check' -l skip -x -a '(__dcvctl_checkids)' -d 'skip these check IDs or ID prefixes'
complete -c dcvctl -n '__dcvctl_using check' -l hold -x -d 'add endpoint.hold: keep a WebSocket open this long with pings'
complete -c dcvctl -n '__dcvctl_using check' -l interval -x -d 'ping interval for --hold (default 5s)'
complete -c dcvctl -n '__dcvctl_using check' -l strict -d 'warnings count as failures'
complete -c dcvctl -n '__dcvctl_using check' -l aws -d 'add the aws.* rows through the aws CLI'
complete -c dcvctl -n '__dcvctl_using check' -l json -d 'same as --format json'

# config diff [HOST...]
complete -c dcvctl -n '__dcvctl_using config diff' -l json -d 'print as JSON'
complete -c dcvctl -n '__dcvctl_arg config diff 1+' -a '(__dcvctl_hosts managed)' -d 'inventory host'

# config lint [HOST...|FILE...]
complete -c dcvctl -n '__dcvctl_using config lint' -l json -d 'print as JSON'
complete -c dcvctl -n '__dcvctl_arg config lint 1+' -a '(__dcvctl_hosts managed)' -d 'inventory host'
complete -c dcvctl -n '__dcvctl_arg config lint 1+' -F

# config render nginx|haproxy|connection-gateway|dcv [--agent NAME]
complete -c dcvctl -n '__dcvctl_using config render' -s a -l agent -x -a '(__dcvctl_hosts agent)' -d 'the agent whose dcv.conf to render (default: the first)'
complete -c dcvctl -n '__dcvctl_arg config render 1' -a 'nginx haproxy connection-gateway dcv' -d kind

# restore FILE [--only HOST] [--dry-run] [--json]
complete -c dcvctl -n '__dcvctl_using restore' -s n -l dry-run -d 'show unified diffs (deployed against archived); change nothing'
complete -c dcvctl -n '__dcvctl_using restore' -l only -x -a '(__dcvctl_hosts managed)' -d 'restore this host only'
complete -c dcvctl -n '__dcvctl_using restore' -l json -d 'one JSON document with every step and a summary'
complete -c dcvctl -n '__dcvctl_arg restore 1' -F -d 'backup archive (.tar.gz)'

# deploy [--dry-run] [--diff] [--only gateway|agents|NAME[,NAME...]] [--serial N|P%] [--max-fail P%] [--proxy nginx|haproxy|connection-gateway] [--json]
complete -c dcvctl -n '__dcvctl_using deploy' -s n -l dry-run -d 'print the plan and unified diffs; change nothing on any host'
complete -c dcvctl -n '__dcvctl_using deploy' -s d -l diff -d 'print unified diffs of the files as they are changed'
complete -c dcvctl -n '__dcvctl_using deploy' -l only -x -a 'gateway agents (__dcvctl_hosts agent)' -d 'gateway, agents, or host names separated by commas'
complete -c dcvctl -n '__dcvctl_using deploy' -l serial -x -d 'deploy the agents N (or P% of them) at a time, each batch verified before the next'
complete -c dcvctl -n '__dcvctl_using deploy' -l max-fail -x -d 'with --serial: stop before the next batch once more than P% of the agents failed (default 0%)'
complete -c dcvctl -n '__dcvctl_using deploy' -l proxy -x -a 'nginx haproxy connection-gateway' -d 'deploy this proxy kind (nginx, haproxy or connection-gateway) instead of the inventory\'s proxy'
complete -c dcvctl -n '__dcvctl_using deploy' -l json -d 'one JSON document with every step and a summary'

# exec [-i] [--sudo] [--timeout DUR] HOST -- CMD [ARG...]
complete -c dcvctl -n '__dcvctl_using exec' -s i -l stdin -d "pass dcvctl's standard input to the command"
complete -c dcvctl -n '__dcvctl_using exec' -s s -l sudo -d 'run the command as root with sudo -n'
complete -c dcvctl -n '__dcvctl_using exec' -s t -l timeout -x -d "give up after DUR (default: the host's command-timeout)"
complete -c dcvctl -n '__dcvctl_arg exec 1' -a '(__dcvctl_hosts)' -d 'inventory host'
complete -c dcvctl -n '__dcvctl_arg exec 2+' -a '\--' -d 'then the remote command'

# help [COMMAND]
complete -c dcvctl -n '__dcvctl_arg help 1' -a '(string join \n -- $__dcvctl_commands)'

# hosts [--probe] [--json]
complete -c dcvctl -n '__dcvctl_using hosts' -s p -l probe -d 'connect to every host in parallel: state, connect time, round trip'
complete -c dcvctl -n '__dcvctl_using hosts' -l json -d 'print as JSON'

# logs [-f] [--since DUR] [--grep RE] [--errors] [-n N] [--json] [HOST...]
complete -c dcvctl -n '__dcvctl_using logs' -s f -l follow -d 'keep printing lines as they are written (survives rotation and reconnects)'
complete -c dcvctl -n '__dcvctl_using logs' -l since -x -d 'only lines written in the last DUR (e.g. 10m, 2h)'
complete -c dcvctl -n '__dcvctl_using logs' -l grep -x -d 'only lines matching the extended regular expression RE'
complete -c dcvctl -n '__dcvctl_using logs' -l errors -d 'only errors and warnings'
complete -c dcvctl -n '__dcvctl_using logs' -s n -l lines -x -d 'last N lines of each log (default 10; with --since: all since then)'
complete -c dcvctl -n '__dcvctl_using logs' -l json -d 'one JSON object per line: host, file, time, level, line'
complete -c dcvctl -n '__dcvctl_arg logs 1+' -a '(__dcvctl_hosts managed)' -d 'inventory host'

# probe http|tls|ws [URL] [--hold DUR] [--interval DUR] [--via HOST] [--connect-to HOST:PORT] [--timeout DUR] [--json]
complete -c dcvctl -n '__dcvctl_using probe http' -l via -x -a '(__dcvctl_hosts)' -d "probe from HOST's vantage point through an SSH tunnel"
complete -c dcvctl -n '__dcvctl_using probe http' -l connect-to -x -d "HOST:PORT to connect to instead of resolving the URL's name"
complete -c dcvctl -n '__dcvctl_using probe http' -l timeout -x -d 'give up after DUR (default 10s)'
complete -c dcvctl -n '__dcvctl_using probe http' -l json -d 'print as JSON'
complete -c dcvctl -n '__dcvctl_using probe tls' -l via -x -a '(__dcvctl_hosts)' -d "probe from HOST's vantage point through an SSH tunnel"
complete -c dcvctl -n '__dcvctl_using probe tls' -l connect-to -x -d "HOST:PORT to connect to instead of resolving the URL's name"
complete -c dcvctl -n '__dcvctl_using probe tls' -l timeout -x -d 'give up after DUR (default 10s)'
complete -c dcvctl -n '__dcvctl_using probe tls' -l json -d 'print as JSON'
complete -c dcvctl -n '__dcvctl_using probe ws' -l via -x -a '(__dcvctl_hosts)' -d "probe from HOST's vantage point through an SSH tunnel"
complete -c dcvctl -n '__dcvctl_using probe ws' -l connect-to -x -d "HOST:PORT to connect to instead of resolving the URL's name"
complete -c dcvctl -n '__dcvctl_using probe ws' -l hold -x -d 'ws: keep the WebSocket open this long, with pings'
complete -c dcvctl -n '__dcvctl_using probe ws' -l interval -x -d 'ws: ping interval during --hold (default 5s)'
complete -c dcvctl -n '__dcvctl_using probe ws' -l timeout -x -d 'give up after DUR (default 10s)'
complete -c dcvctl -n '__dcvctl_using probe ws' -l json -d 'print as JSON'

# service ACTION HOST UNIT...
complete -c dcvctl -n '__dcvctl_using service' -l json -d 'print as JSON'
complete -c dcvctl -n '__dcvctl_arg service 1' -a 'status start stop restart reload enable disable' -d action
complete -c dcvctl -n '__dcvctl_arg service 2' -a '(__dcvctl_hosts)' -d 'inventory host'
complete -c dcvctl -n '__dcvctl_arg service 3+' -a '$__dcvctl_units' -d unit

# session list|create|close|recreate [--agent NAME] [--json]
complete -c dcvctl -n '__dcvctl_using session close' -s a -l agent -x -a '(__dcvctl_hosts agent)' -d 'only this agent (default: every agent)'
complete -c dcvctl -n '__dcvctl_using session close' -l json -d 'print as JSON'
complete -c dcvctl -n '__dcvctl_using session create' -s a -l agent -x -a '(__dcvctl_hosts agent)' -d 'only this agent (default: every agent)'
complete -c dcvctl -n '__dcvctl_using session create' -l json -d 'print as JSON'
complete -c dcvctl -n '__dcvctl_using session list' -s a -l agent -x -a '(__dcvctl_hosts agent)' -d 'only this agent (default: every agent)'
complete -c dcvctl -n '__dcvctl_using session list' -l json -d 'print as JSON'
complete -c dcvctl -n '__dcvctl_using session recreate' -s a -l agent -x -a '(__dcvctl_hosts agent)' -d 'only this agent (default: every agent)'
complete -c dcvctl -n '__dcvctl_using session recreate' -l json -d 'print as JSON'

# version [--json]
complete -c dcvctl -n '__dcvctl_using version' -l json -d 'print as JSON'
