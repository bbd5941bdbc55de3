# fish completion for dcvctl(1).
#
# Every option has one `complete` line whose condition names its command
# (__dcvctl_using CMD, or __dcvctl_using CMD SUB for a subcommand); options that take a value are
# also listed in __dcvctl_valued, and commands with subcommands in __dcvctl_subcmds. This mirrors
# the command table (dcv_commands[] in cmd/): tests/unit/test_cli.c fails until every command,
# subcommand and option of the table is here.

set -g __dcvctl_commands \
    'exec	run a command on a host, arguments passed literally, output streamed' \
    'help	show help for dcvctl or a command' \
    "hosts	list the inventory's hosts; --probe connects to each in parallel" \
    'service	status/start/stop/restart/reload/enable/disable units via systemctl (sudo)' \
    "version	print dcvctl's version and the libraries it runs on"

# "CMD:SUB SUB..." for each command with subcommands (none yet).
set -g __dcvctl_subcmds

# "PATH:OPTION" for each option that takes its value from the next word ("global" before the command).
set -g __dcvctl_valued global:-c global:--config global:--color exec:-t exec:--timeout

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

# __dcvctl_arg CMD N: completing CMD's Nth positional argument ("3+": the third or later).
function __dcvctl_arg
    __dcvctl_using $argv[1]; or return
    set -l n (math (__dcvctl_parse npos) + 1)
    if string match -q -- '*+' $argv[2]
        test $n -ge (string trim -r -c + -- $argv[2])
    else
        test $n -eq $argv[2]
    end
end

# Host names of the inventory dcvctl would read (-c FILE, $DCVCTL_CONFIG, ./dcvctl.conf,
# $XDG_CONFIG_HOME/dcvctl/dcvctl.conf): [gateway], [bastion] and [agent NAME] headers.
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
    awk '/^\[[ \t]*(gateway|bastion)[ \t]*\]/ { sub(/^\[[ \t]*/, ""); sub(/[ \t]*\].*/, ""); print }
         /^\[[ \t]*agent[ \t]+[^] \t]+[ \t]*\]/ { sub(/^\[[ \t]*agent[ \t]+/, ""); sub(/[ \t]*\].*/, ""); print }' \
        $f 2>/dev/null
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

# every command takes --help
complete -c dcvctl -n 'not __dcvctl_needs_command; and test (__dcvctl_parse dd) -eq 0' -s h -l help -d 'show help'

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

# service ACTION HOST UNIT...
complete -c dcvctl -n '__dcvctl_using service' -l json -d 'print as JSON'
complete -c dcvctl -n '__dcvctl_arg service 1' -a 'status start stop restart reload enable disable' -d action
complete -c dcvctl -n '__dcvctl_arg service 2' -a '(__dcvctl_hosts)' -d 'inventory host'
complete -c dcvctl -n '__dcvctl_arg service 3+' -a '$__dcvctl_units' -d unit

# version [--json]
complete -c dcvctl -n '__dcvctl_using version' -l json -d 'print as JSON'
